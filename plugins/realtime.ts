import fp from 'fastify-plugin'
import { createHub, type Hub } from '../src/realtime/hub.js'
import { createReceiptBatcher, type ReceiptBatcher } from '../src/realtime/receipts.js'
import type { SessionDeps } from '../src/realtime/session.js'

declare module 'fastify' {
  interface FastifyInstance {
    realtime: {
      hub: Hub
      receipts: ReceiptBatcher
      sessionDeps: SessionDeps
      /** Sockets that answer heartbeats; the route registers and removes them. */
      heartbeats: Map<string, { alive: boolean, ping (): void, terminate (): void }>
    }
    /** connection id → reports a failed receipt write to that socket */
    realtimeSessions: Map<string, (err: unknown) => void>
  }
}

/**
 * The live layer's node-local parts: the hub (rooms, delivery, presence), the
 * receipt batcher, and the timers: heartbeats (ping sockets, close the silent
 * ones, refresh presence leases) and the presence sweep (users of a dead node
 * go offline when their leases run out).
 */
export default fp(async (app) => {
  const { config, store, broker, services } = app
  const sessions = new Map<string, (err: unknown) => void>()

  const hub = createHub({
    broker,
    conversationIdsOf: (userId) => store.memberships.conversationIdsOf(userId),
    presenceTtlMs: config.PRESENCE_TTL_MS,
    onOffline: (userId, at) => { void store.users.touchLastSeen(userId, at).catch(() => {}) },
    onError: (err, what) => app.log.warn({ err: (err as Error).message }, `realtime: ${what} failed`),
    onMessageDelivered: (sentAt, sockets) => {
      const seconds = Math.max(0, Date.now() - Date.parse(sentAt)) / 1000
      for (let i = 0; i < sockets; i++) app.metrics.sendToDeliver.observe(seconds)
    },
    onFramesOut: (type, count) => app.metrics.wsFrames.inc({ direction: 'out', type }, count),
    onFanOut: (live, sockets) => {
      if (live.event.type !== 'new_message') return
      const message = live.event.message as { id: string, conversationId: string, seq: number }
      services.messages.observeSeq(message.conversationId, message.seq)
      app.log.debug({ messageId: message.id, conversationId: message.conversationId, sockets, origin: live.trace, nodeId: broker.nodeId }, 'message delivered to local sockets')
    }
  })

  const receipts = createReceiptBatcher({
    flushMs: config.RECEIPT_FLUSH_MS,
    write: async (userId, conversationId, kind, seq) => { await services.messages.acknowledge(userId, conversationId, kind, seq) },
    onError: (err, receipt) => sessions.get(receipt.connectionId)?.(err)
  })

  const heartbeats = new Map<string, { alive: boolean, ping (): void, terminate (): void }>()
  const beat = setInterval(() => {
    for (const socket of heartbeats.values()) {
      if (!socket.alive) { socket.terminate(); continue }
      socket.alive = false
      socket.ping()
    }
    hub.refreshPresence().catch((err) => app.log.warn({ err: (err as Error).message }, 'presence refresh failed'))
  }, config.WS_HEARTBEAT_MS)
  const sweep = setInterval(() => {
    hub.sweepPresence().catch((err) => app.log.warn({ err: (err as Error).message }, 'presence sweep failed'))
  }, Math.max(100, Math.floor(config.PRESENCE_TTL_MS / 2)))
  beat.unref()
  sweep.unref()

  const sessionDeps: SessionDeps = {
    hub,
    receipts,
    send: (input) => services.messages.send(input),
    missedMessages: (userId, cursors, perConversation) => services.messages.missedMessages(userId, cursors, perConversation),
    publishTyping: (conversationId, userId, isTyping) => services.messages.typing(conversationId, userId, isTyping),
    typingTtlMs: config.TYPING_TTL_MS,
    syncLimit: config.SYNC_MAX_PER_CONVERSATION,
    takeFrameToken: config.rateLimits === null
      ? null
      : (userId) => broker.buckets.take(`ws:${userId}`, config.WS_FRAME_BURST, config.WS_FRAMES_PER_SECOND),
    floodCloseAfter: config.WS_FLOOD_CLOSE_AFTER,
    onError: (err, frameType, connectionId) => app.log.error({ err, frameType, connectionId }, 'websocket frame failed'),
    onFrame: (direction, type) => {
      app.metrics.wsFrames.inc({ direction, type })
      if (type === 'rate_limited') app.metrics.rateLimited.inc({ where: 'ws' })
    }
  }

  app.decorate('realtime', { hub, receipts, sessionDeps, heartbeats })
  // Registered before the websocket server closes its sockets (1012): flush receipts, end presence.
  app.addHook('preClose', async () => {
    clearInterval(beat)
    clearInterval(sweep)
    await receipts.flush()
    await hub.close()
  })
  app.decorate('realtimeSessions', sessions)
}, { name: 'realtime', dependencies: ['config', 'store', 'broker', 'services', 'websocket', 'metrics'] })
