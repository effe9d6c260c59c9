import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { AppError, unauthorized } from '../../../src/domain/errors.js'
import { addressKey } from '../../../src/domain/addresses.js'

declare module 'fastify' {
  interface FastifyRequest {
    wsAuth?: { userId: string, sessionId: string, expiresAt: number }
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
 * (401 otherwise); the socket is then the realtime layer's (src/realtime/gateway.ts).
 */
const ws: FastifyPluginAsync = async (app) => {
  const { gateway } = app.realtime

  app.get('/ws', {
    websocket: true,
    schema: { hide: true },
    onRequest: async (request) => {
      const token = tokenOf(request)
      if (token === undefined) throw unauthorized('an access token is required (?token= or Authorization: Bearer)')
      const claims = await app.verifyAccessToken(token) as { sub: string, sid: string, exp?: number }
      if (!gateway.admits(addressKey(request.ip))) {
        app.metrics.rateLimited.inc({ where: 'ws_connect' })
        throw new AppError('RATE_LIMITED', `too many open sockets from this address (at most ${app.config.WS_MAX_CONNECTIONS_PER_IP} per node)`)
      }
      request.wsAuth = { userId: claims.sub, sessionId: claims.sid, expiresAt: (claims.exp ?? 0) * 1000 }
    },
    // An attempt answered without an upgrade was refused: count it by why.
    onResponse: async (_request, reply) => {
      if (reply.statusCode < 400) return
      app.metrics.wsRefused.inc({ reason: reply.statusCode === 401 ? 'unauthorized' : reply.statusCode === 429 ? 'too_many' : 'other' })
    }
  }, (socket: WebSocket, request) => {
    // Synchronously, before any await: no frame is missed.
    gateway.accept(socket, { ...request.wsAuth!, address: addressKey(request.ip), tcp: request.raw.socket, log: request.log })
  })
}

export default ws
