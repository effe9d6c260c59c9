/**
 * Every close code the server uses on a websocket, in one place (the SDK
 * imports this module too). 1000–1015 are the protocol's own (RFC 6455);
 * 4401 is ours, in the range for applications.
 */
export const CloseCode = {
  /** The client closed on purpose. */
  NORMAL: 1000,
  /** A client that keeps sending frames after being refused. */
  POLICY_VIOLATION: 1008,
  /** A frame over the payload limit (ws closes with it itself). */
  MESSAGE_TOO_BIG: 1009,
  /** The server could not set the socket up (its conversations could not be read). */
  INTERNAL_ERROR: 1011,
  /** The node is shutting down: reconnect, to another node. */
  SERVICE_RESTART: 1012,
  /** The socket's send buffer overflowed: the client stopped reading. */
  TRY_AGAIN_LATER: 1013,
  /** The access token expired, or its session ended (logout), on an open socket: refresh it, then reconnect (after a logout the refresh fails). */
  TOKEN_EXPIRED: 4401
} as const

export type CloseCode = typeof CloseCode[keyof typeof CloseCode]
