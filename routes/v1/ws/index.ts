import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { AppError, unauthorized } from '../../../src/domain/errors.js'
import type { Connection } from '../../../src/realtime/hub.js'
import { createSession } from '../../../src/realtime/session.js'

/** Close code when the access token expires on an open socket: refresh, then reconnect. */
export const CLOSE_TOKEN_EXPIRED = 4401
/** Close code for a socket whose send buffer overflowed (a slow consumer). */
export const CLOSE_TRY_AGAIN_LATER = 1013

declare module 'fastify' {
  interface FastifyRequest {
    wsAuth?: { userId: string, expiresAt: number }
  }
}

function tokenOf (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header !== undefined && /^Bearer \S+$/.test(header)) return header.slice(7)
  const query = request.query as { token?: unknown }
  return typeof query.token === 'string' && query.token !== '' ? query.token : undefined
}

/**
 * GET /v1/ws: one socket per client for live events. The access token comes
 * in `?token=` or an Authorization header and is checked before the upgrade
 * (401 otherwise). Listeners are attached synchronously, before any await.
 */
const ws: FastifyPluginAsync = async (app) => {
  const { hub, sessionDeps, heartbeats } = app.realtime
  /** Open sockets per client address on this node. */
  const perAddress = new Map<string, number>()
  const maxPerAddress = app.config.WS_MAX_CONNECTIONS_PER_IP

  app.get('/ws', {
    websocket: true,
    schema: { hide: true },
    onRequest: async (request) => {
      const token = tokenOf(request)
      if (token === undefined) throw unauthorized('an access token is required (?token= or Authorization: Bearer)')
      const claims = app.verifyAccessToken(token) as { sub: string, exp?: number }
      if ((perAddress.get(request.ip) ?? 0) >= maxPerAddress) {
        app.metrics.rateLimited.inc({ where: 'ws_connect' })
        throw new AppError('RATE_LIMITED', `too many open sockets from this address (at most ${maxPerAddress} per node)`)
      }
      request.wsAuth = { userId: claims.sub, expiresAt: (claims.exp ?? 0) * 1000 }
    }
  }, (socket: WebSocket, request) => {
    const auth = request.wsAuth!
    const maxBuffered = app.config.WS_MAX_BUFFERED_BYTES
    const conn: Connection = {
      id: randomUUID(),
      userId: auth.userId,
      send (frame) {
        if (this.write(JSON.stringify(frame))) app.metrics.wsFrames.inc({ direction: 'out', type: frame.type })
      },
      write (text) {
        if (socket.readyState !== socket.OPEN) return false
        // A client that stops reading must not grow our memory without bound.
        if (socket.bufferedAmount + text.length > maxBuffered) {
          dropSlow()
          return false
        }
        coalesce()
        socket.send(text)
        return true
      },
      close (code, reason) { socket.close(code, reason) }
    }
    // Frames written in one turn of the event loop (a batch of messages fanned
    // out, a sync's replay) leave in one write, not one system call each: the
    // TCP socket is corked at the first and uncorked once the turn's work is done.
    const tcp = (socket as unknown as { _socket?: { cork (): void, uncork (): void } })._socket
    let corked = false
    const coalesce = () => {
      if (corked || tcp === undefined) return
      corked = true
      tcp.cork()
      process.nextTick(() => { corked = false; tcp.uncork() })
    }
    const dropSlow = () => {
      log.info({ buffered: socket.bufferedAmount }, 'closing a socket that stopped reading')
      socket.close(CLOSE_TRY_AGAIN_LATER, 'too slow: the send buffer is full')
      // Its close frame waits behind the unread data; do not wait for a reader that is gone.
      setTimeout(() => socket.terminate(), 1000).unref()
    }
    const log = request.log.child({ connectionId: conn.id, userId: conn.userId })
    perAddress.set(request.ip, (perAddress.get(request.ip) ?? 0) + 1)
    const ready = hub.add(conn)
    app.metrics.wsConnections.inc()
    const session = createSession(conn, sessionDeps, ready)
    const beat = { alive: true, ping: () => socket.ping(), terminate: () => socket.terminate() }

    socket.on('message', (data, isBinary) => {
      if (isBinary) session.receiveBinary()
      else session.receive(data.toString())
    })
    socket.on('pong', () => { beat.alive = true })
    socket.on('error', (err) => log.debug({ err: err.message }, 'socket error'))
    const expiry = setTimeout(() => conn.close(CLOSE_TOKEN_EXPIRED, 'access token expired'), Math.max(0, auth.expiresAt - Date.now()))
    socket.on('close', (code) => {
      app.metrics.wsConnections.dec()
      const open = (perAddress.get(request.ip) ?? 1) - 1
      if (open > 0) perAddress.set(request.ip, open)
      else perAddress.delete(request.ip)
      clearTimeout(expiry)
      heartbeats.delete(conn.id)
      app.realtimeSessions.delete(conn.id)
      session.end()
      log.debug({ code }, 'socket closed')
      ready.finally(() => hub.remove(conn)).catch((err) => log.warn({ err: (err as Error).message }, 'leaving the hub failed'))
    })
    heartbeats.set(conn.id, beat)
    app.realtimeSessions.set(conn.id, (err) => session.receiptFailed(err))
    ready.then(() => log.debug('socket joined'), (err) => {
      log.warn({ err: (err as Error).message }, 'could not join the hub; closing')
      conn.close(1011, 'could not join')
    })
  })
}

export default ws
