import type { WebSocket } from 'ws'
import { CloseCode } from './close-codes.js'
import { createConnection, type ConnectionLog, type ConnectionOptions, type EndReason, type LiveConnection } from './connection.js'
import type { Hub } from './hub.js'
import { createSession, type Session, type SessionDeps } from './session.js'

export interface GatewayDeps {
  hub: Hub
  sessionDeps: SessionDeps
  /** Open sockets one client address may hold on this node. */
  maxPerAddress: number
  connection: Pick<ConnectionOptions, 'maxBufferedBytes' | 'closeGraceMs' | 'onFrameOut' | 'onWriteFailed' | 'onPingRtt'>
  onOpen?: () => void
  /** A socket ended, and why (see disconnectReason). */
  onClose?: (reason: DisconnectReason) => void
}

export type DisconnectReason = 'client' | 'abnormal' | 'heartbeat' | 'slow_consumer' | 'token_expired' | 'policy' | 'too_big' | 'internal' | 'server_restart'

/** Why a socket ended: the server's own reason when it ended it, else what its close code says. */
export function disconnectReason (code: number, ended: EndReason | undefined): DisconnectReason {
  if (ended !== undefined) return ended
  switch (code) {
    case CloseCode.POLICY_VIOLATION: return 'policy'
    case CloseCode.MESSAGE_TOO_BIG: return 'too_big'
    case CloseCode.INTERNAL_ERROR: return 'internal'
    case CloseCode.SERVICE_RESTART: return 'server_restart'
    case CloseCode.TRY_AGAIN_LATER: return 'slow_consumer'
    case CloseCode.TOKEN_EXPIRED: return 'token_expired'
    case 1006: return 'abnormal'
    default: return 'client'
  }
}

export interface AcceptOptions {
  userId: string
  sessionId: string
  /** When the access token expires (epoch ms). */
  expiresAt: number
  /** The client's address, as the limits see it. */
  address: string
  tcp?: ConnectionOptions['tcp']
  log: ConnectionLog
}

/**
 * Where authenticated sockets enter the realtime layer: it wraps each in a
 * connection, joins it to the hub, runs its session, and keeps what this
 * node owns about open sockets: the count per address, the heartbeat, and
 * which session a receipt came from.
 */
export function createGateway (deps: GatewayDeps) {
  const { hub, sessionDeps } = deps
  const perAddress = new Map<string, number>()
  const open = new Map<string, { conn: LiveConnection, session: Session }>()

  return {
    /** Whether a new socket from this address would stay within its limit on this node. */
    admits (address: string): boolean {
      return (perAddress.get(address) ?? 0) < deps.maxPerAddress
    },

    /** Takes over an upgraded socket; call synchronously in the upgrade handler, so no frame is missed. */
    accept (socket: WebSocket, options: AcceptOptions): void {
      const { address } = options
      const conn = createConnection(socket, { ...deps.connection, userId: options.userId, sessionId: options.sessionId, expiresAt: options.expiresAt, ...(options.tcp !== undefined && { tcp: options.tcp }), log: options.log })
      const log = conn.log
      perAddress.set(address, (perAddress.get(address) ?? 0) + 1)
      const ready = hub.add(conn)
      deps.onOpen?.()
      const session = createSession(conn, sessionDeps, ready)
      open.set(conn.id, { conn, session })

      socket.on('message', (data, isBinary) => {
        if (isBinary) session.receiveBinary()
        else session.receive(data.toString())
      })
      socket.on('error', (err) => log.debug({ err: err.message }, 'socket error'))
      socket.on('close', (code) => {
        deps.onClose?.(disconnectReason(code, conn.endReason))
        const left = (perAddress.get(address) ?? 1) - 1
        if (left > 0) perAddress.set(address, left)
        else perAddress.delete(address)
        open.delete(conn.id)
        conn.end()
        session.end()
        log.debug({ code }, 'socket closed')
        ready.finally(() => hub.remove(conn)).catch((err) => log.warn({ err: (err as Error).message }, 'leaving the hub failed'))
      })
      ready.then(() => log.debug({}, 'socket joined'), (err) => {
        log.warn({ err: (err as Error).message }, 'could not join the hub; closing')
        conn.close(CloseCode.INTERNAL_ERROR, 'could not join')
      })
    },

    /** The heartbeat of every open socket. */
    beat (): void {
      for (const { conn } of open.values()) conn.beat()
    },

    /** A receipt from this connection could not be written: its session tells the client. */
    receiptFailed (connectionId: string, err: unknown): void {
      open.get(connectionId)?.session.receiptFailed(err)
    },

    get size (): number { return open.size }
  }
}

export type Gateway = ReturnType<typeof createGateway>
