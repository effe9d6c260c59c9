import { randomUUID } from 'node:crypto'
import type { WebSocket } from 'ws'
import { CloseCode } from './close-codes.js'
import type { Connection } from './hub.js'

/** What a connection logs with (pino's shape). */
export interface ConnectionLog {
  info (obj: object, msg: string): void
  debug (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  child (bindings: object): ConnectionLog
}

export interface ConnectionOptions {
  userId: string
  /** The session (refresh family) of the access token that opened it: the socket is closed with 4401 when it ends. */
  sessionId: string
  /** When the access token that opened it expires (epoch ms): the socket is closed with 4401 then. */
  expiresAt: number
  /**
   * The TCP socket under the websocket (the upgraded request's socket), corked
   * at the first frame of a turn of the event loop and uncorked once the turn's
   * work is done: a fan-out's or a sync's frames leave in one write, not one
   * system call each.
   */
  tcp?: { cork (): void, uncork (): void }
  /** A socket whose unsent data would grow past this is closed with 1013 (the client stopped reading). */
  maxBufferedBytes: number
  /** How long a socket closed as too slow may take to say goodbye before it is destroyed. */
  closeGraceMs: number
  log: ConnectionLog
  /** A frame was written by send() (fan-outs count theirs once, in the hub). */
  onFrameOut?: (type: string) => void
  /** A frame was not written: the send buffer was full (the socket is closed as too slow) or the socket had closed. */
  onWriteFailed?: (reason: 'slow_consumer' | 'closed') => void
  /** A heartbeat's pong came back, this long after its ping. */
  onPingRtt?: (seconds: number) => void
}

/** Why a connection ended, when the server ended it (else the close code says). */
export type EndReason = 'heartbeat' | 'slow_consumer' | 'token_expired'

/** A socket as the realtime layer owns it: the hub's Connection, plus its heartbeat and end. */
export interface LiveConnection extends Connection {
  /** The heartbeat: pings, and destroys a socket that did not answer the previous ping. */
  beat (): void
  /** The socket closed: stops the connection's timers. */
  end (): void
  /** Stops reading the socket (the client's frames wait in the network, not in our memory); resumeReading() goes on. */
  pauseReading (): void
  resumeReading (): void
  /** Logs with the connection's id and user. */
  readonly log: ConnectionLog
  /** Set when the server ended the socket for one of its own reasons. */
  readonly endReason: EndReason | undefined
}

/**
 * Owns one websocket's policies: the write path (coalescing, the
 * slow-consumer rule), the heartbeat, and the access token's expiry.
 */
export function createConnection (socket: WebSocket, options: ConnectionOptions): LiveConnection {
  const { tcp, maxBufferedBytes } = options
  const id = randomUUID()
  const log = options.log.child({ connectionId: id, userId: options.userId })
  let alive = true
  let corked = false
  let pingedAt = 0
  let endReason: EndReason | undefined
  socket.on('pong', () => {
    alive = true
    if (pingedAt > 0) options.onPingRtt?.((performance.now() - pingedAt) / 1000)
    pingedAt = 0
  })

  const uncork = () => { corked = false; tcp!.uncork() }
  const coalesce = () => {
    if (corked || tcp === undefined) return
    corked = true
    tcp.cork()
    process.nextTick(uncork)
  }

  const dropSlow = () => {
    endReason ??= 'slow_consumer'
    log.info({ buffered: socket.bufferedAmount }, 'closing a socket that stopped reading')
    socket.close(CloseCode.TRY_AGAIN_LATER, 'too slow: the send buffer is full')
    // Its close frame waits behind the unread data; do not wait for a reader that is gone.
    setTimeout(() => socket.terminate(), options.closeGraceMs).unref()
  }

  const expiry = setTimeout(() => {
    endReason ??= 'token_expired'
    socket.close(CloseCode.TOKEN_EXPIRED, 'access token expired')
  }, Math.max(0, options.expiresAt - Date.now()))

  const conn: LiveConnection = {
    id,
    userId: options.userId,
    sessionId: options.sessionId,
    log,
    get endReason () { return endReason },
    send (frame) {
      if (conn.write(JSON.stringify(frame))) options.onFrameOut?.(frame.type)
    },
    write (text) {
      if (socket.readyState !== socket.OPEN) {
        options.onWriteFailed?.('closed')
        return false
      }
      // A client that stops reading must not grow our memory without bound.
      if (socket.bufferedAmount + text.length > maxBufferedBytes) {
        options.onWriteFailed?.('slow_consumer')
        dropSlow()
        return false
      }
      coalesce()
      socket.send(text)
      return true
    },
    close (code, reason) { socket.close(code, reason) },
    beat () {
      if (!alive) {
        endReason ??= 'heartbeat'
        socket.terminate()
        return
      }
      alive = false
      pingedAt = performance.now()
      socket.ping()
    },
    end () { clearTimeout(expiry) },
    pauseReading () { socket.pause() },
    resumeReading () { socket.resume() }
  }
  return conn
}
