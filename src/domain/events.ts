/**
 * What travels on the broker's channels: the frame to hand to clients, and
 * whom among the channel's listeners to leave out.
 */
export interface LiveEvent {
  /** A server frame: `{type, ...}` as the websocket protocol defines it. */
  event: { type: string } & Record<string, unknown>
  /** Leave out every connection of this user (typing, receipts: "others get …"). */
  skipUser?: string
  /** Leave out this one connection (the websocket that sent a message already has its ack). */
  skipConnection?: string
  /** Where it came from, so one message can be followed across nodes in the logs. */
  trace?: Trace
}

/** The request or websocket connection that caused an event, and the node that handled it. */
export interface Trace {
  requestId?: string
  connectionId?: string
  nodeId?: string
}

/** On a user's channel instead of a LiveEvent: one session of the user ended; its sockets are closed (4401). */
export interface SessionEnded {
  sessionEnded: string
}

export const isSessionEnded = (payload: unknown): payload is SessionEnded =>
  typeof (payload as SessionEnded | undefined)?.sessionEnded === 'string'
