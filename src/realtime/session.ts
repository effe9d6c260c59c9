import { AppError } from '../domain/errors.js'
import type { MessageView } from '../domain/conversations.js'
import type { AttachmentInput, ContentType } from '../domain/types.js'
import type { Limiter } from '../limits/port.js'
import { CloseCode } from './close-codes.js'
import type { LiveConnection } from './connection.js'
import type { Connection, Hub } from './hub.js'
import type { ClientFrame, ParseResult, ServerFrame } from './protocol.js'
import type { ReceiptBatcher } from './receipts.js'

/** What a session needs from the services, as functions (realtime sits below services). */
export interface SessionDeps {
  hub: Hub
  receipts: ReceiptBatcher
  send (input: { conversationId: string, senderId: string, content?: string, contentType?: ContentType, attachments?: AttachmentInput[], clientMessageId: string, replyTo?: string, threadId?: string, source: 'ws', originConnectionId: string, trace: { connectionId: string } }): Promise<{ message: MessageView }>
  /** One batch of a sync: the frames to replay, and what sync_complete says. */
  sync (userId: string, cursors: Record<string, number> | undefined): Promise<{ frames: Array<{ frame: { type: string }, text: string }>, cursors: Record<string, number>, truncated: string[], hasMore: boolean }>
  publishTyping (conversationId: string, userId: string, isTyping: boolean): Promise<void>
  typingTtlMs: number
  /** Parses and validates a text frame (createFrameParser, with the server's limits). */
  parseFrame (text: string): ParseResult
  /** Frames per user (on this node); null when frames are not limited. */
  frameLimiter: Limiter | null
  /** Refused frames in a row after which the socket is closed with 1008. */
  floodCloseAfter: number
  /** Frames received and not yet handled at which the socket stops being read (until half are done). */
  maxPendingFrames: number
  onFrame?: (direction: 'in' | 'out', type: string) => void
  onError?: (err: unknown, frameType: string, connectionId: string) => void
}

/** Contract codes for error frames: FORBIDDEN (not a participant) is UNAUTHORIZED on the socket. */
function frameCode (err: unknown): string {
  if (err instanceof AppError) {
    if (err.code === 'FORBIDDEN') return 'UNAUTHORIZED'
    if (err.code === 'CONFLICT' || err.code === 'PAYLOAD_TOO_LARGE') return 'VALIDATION_ERROR'
    return err.code
  }
  if ((err as { name?: string }).name === 'DependencyUnavailableError') return 'UNAVAILABLE'
  return 'INTERNAL_ERROR'
}

/** Unanswered sends one socket may have before its next frame waits. */
export const MAX_SENDS_IN_FLIGHT = 32

/**
 * One socket's conversation with the server: validates each frame and
 * dispatches it, one at a time in arrival order (a send is dispatched once it
 * has its place in its conversation's queue; its answer comes when it is stored).
 */
export function createSession (conn: Connection & Pick<LiveConnection, 'pauseReading' | 'resumeReading'>, deps: SessionDeps, ready: Promise<void> = Promise.resolve()) {
  const typing = new Map<string, NodeJS.Timeout>()
  let refusedInARow = 0
  // Frames received and not yet handled; at maxPendingFrames the socket is not read until half are done.
  let pending = 0
  let paused = false
  const inFlight = new Set<Promise<void>>()
  // Frames wait for the hub to have joined the socket to its rooms.
  let queue: Promise<void> = ready

  const reply = (frame: ServerFrame) => conn.send(frame)
  const refuse = (code: string, message: string, clientMessageId?: string) =>
    reply({ type: 'error', code, message, ...(clientMessageId !== undefined && { clientMessageId }) })

  function fail (err: unknown, frame: ClientFrame) {
    const code = frameCode(err)
    if (code === 'INTERNAL_ERROR') deps.onError?.(err, frame.type, conn.id)
    const message = code === 'INTERNAL_ERROR' ? 'internal error' : code === 'UNAVAILABLE' ? 'a dependency is unavailable; retry later' : (err as Error).message
    refuse(code, message, frame.type === 'send_message' ? frame.clientMessageId : undefined)
  }

  /** Whether the frame limit lets one more frame through; refuses (and closes a flood) when not. */
  async function admitted (clientMessageId: string | undefined): Promise<boolean> {
    if (deps.frameLimiter === null) return true
    const token = await deps.frameLimiter.consume(conn.userId)
    if (token.allowed) {
      refusedInARow = 0
      return true
    }
    deps.onFrame?.('in', 'rate_limited')
    if (++refusedInARow >= deps.floodCloseAfter) conn.close(CloseCode.POLICY_VIOLATION, 'rate limit: too many frames')
    else refuse('RATE_LIMITED', `too many frames; retry in ${token.retryInMs} ms`, clientMessageId)
    return false
  }

  /** Queues a frame's work behind the frames before it, once the frame limit admits it. */
  function later (clientMessageId: string | undefined, work: () => void | Promise<void>, onError: (err: unknown) => void = () => {}) {
    if (++pending >= deps.maxPendingFrames && !paused) {
      paused = true
      conn.pauseReading()
    }
    queue = queue.then(async () => { if (await admitted(clientMessageId)) await work() }).catch(onError).finally(done)
  }

  function done () {
    if (--pending > deps.maxPendingFrames / 2 || !paused) return
    paused = false
    conn.resumeReading()
  }

  function stopTyping (conversationId: string, notify: boolean) {
    const timer = typing.get(conversationId)
    if (timer === undefined) return
    clearTimeout(timer)
    typing.delete(conversationId)
    if (notify) void deps.publishTyping(conversationId, conn.userId, false).catch(() => {})
  }

  async function handle (frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'ping':
        return reply({ type: 'pong' })
      case 'send_message': {
        // Sends are pipelined: the next frame is read as soon as this one has its
        // place in the conversation's queue (taken synchronously by send), so a
        // socket's sends are stored in the order it sent them and share commits.
        // A socket with MAX_SENDS_IN_FLIGHT unanswered sends waits for the oldest.
        if (inFlight.size >= MAX_SENDS_IN_FLIGHT) await Promise.race(inFlight)
        const { type: _type, ...input } = frame
        const sending = deps.send({ ...input, senderId: conn.userId, source: 'ws', originConnectionId: conn.id, trace: { connectionId: conn.id } })
          .then(({ message }) => {
            reply({ type: 'message_sent', clientMessageId: frame.clientMessageId, messageId: message.id, conversationId: message.conversationId, seq: message.seq, version: message.version, sentAt: message.sentAt })
          }, (err: unknown) => fail(err, frame))
          .finally(() => inFlight.delete(sending))
        inFlight.add(sending)
        // A send ends the sender's typing now, in frame order (a typing frame after it starts it again).
        return stopTyping(frame.conversationId, true)
      }
      case 'typing': {
        if (!deps.hub.isIn(conn, frame.conversationId)) throw new AppError('FORBIDDEN', 'you are not a participant of this conversation')
        if (!frame.isTyping) return stopTyping(frame.conversationId, true)
        const renewed = typing.has(frame.conversationId)
        clearTimeout(typing.get(frame.conversationId))
        // A start that is not renewed in time ends on the typer's behalf.
        typing.set(frame.conversationId, setTimeout(() => stopTyping(frame.conversationId, true), deps.typingTtlMs))
        if (!renewed) await deps.publishTyping(frame.conversationId, conn.userId, true)
        return
      }
      case 'delivered':
      case 'read':
        if (!deps.hub.isIn(conn, frame.conversationId)) throw new AppError('FORBIDDEN', 'you are not a participant of this conversation')
        deps.receipts.add(conn.id, conn.userId, frame.conversationId, frame.type, frame.seq)
        return
      case 'sync': {
        const { frames, cursors, truncated, hasMore } = await deps.sync(conn.userId, frame.cursors)
        for (const { frame: replayed, text } of frames) if (conn.write(text)) deps.onFrame?.('out', replayed.type)
        return reply({ type: 'sync_complete', truncated, hasMore, cursors })
      }
    }
  }

  return {
    /**
     * Called for every text frame, synchronously; frames are handled in order.
     * Every frame counts against the frame limit, pings and invalid ones too.
     */
    receive (text: string): void {
      const parsed = deps.parseFrame(text)
      deps.onFrame?.('in', parsed.ok ? parsed.frame.type : 'invalid')
      if (!parsed.ok) return later(parsed.clientMessageId, () => refuse('VALIDATION_ERROR', parsed.message, parsed.clientMessageId))
      const frame = parsed.frame
      later(frame.type === 'send_message' ? frame.clientMessageId : undefined, () => handle(frame), (err) => fail(err, frame))
    },

    /** A frame that is not text. */
    receiveBinary (): void {
      deps.onFrame?.('in', 'invalid')
      later(undefined, () => refuse('VALIDATION_ERROR', 'frames must be JSON text'))
    },

    /** The socket closed: typing stops for the others. */
    end (): void {
      for (const conversationId of [...typing.keys()]) stopTyping(conversationId, true)
    },

    /** Reports receipt write failures to the socket that sent them. */
    receiptFailed (err: unknown): void {
      refuse(frameCode(err), err instanceof AppError ? err.message : 'receipt not recorded')
    }
  }
}

export type Session = ReturnType<typeof createSession>
