import fp from 'fastify-plugin'
import { createGateway, type Gateway } from '../src/realtime/gateway.js'
import { createHub, type Hub } from '../src/realtime/hub.js'
import { createReceiptBatcher, type ReceiptBatcher } from '../src/realtime/receipts.js'
import type { SessionDeps } from '../src/realtime/session.js'
import { createFrameParser } from '../src/realtime/protocol.js'
import { createMemoryLimits } from '../src/limits/memory.js'

declare module 'fastify' {
  interface FastifyInstance {
    realtime: {
      hub: Hub
      receipts: ReceiptBatcher
      /** Where the websocket route hands authenticated sockets over. */
      gateway: Gateway
    }
  }
}

/**
 * The live layer's node-local parts: the hub (rooms, delivery, presence), the
 * receipt batcher, the gateway (sockets, their sessions and heartbeats), and
 * the timers: heartbeats (ping sockets, close the silent ones, refresh
 * presence leases) and the presence sweep (users of a dead node go offline
 * when their leases run out).
 */
export default fp(async (app) => {
  const { config, store, broker, presence, services } = app

  const hub = createHub({
    broker,
    presence,
    conversationIdsOf: (userId) => store.memberships.conversationIdsOf(userId),
    isParticipant: async (conversationId, userId) => await store.memberships.find(conversationId, userId) !== null,
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
      const message = live.event.message as { id: string, conversationId: string }
      app.log.debug({ messageId: message.id, conversationId: message.conversationId, sockets, origin: live.trace, nodeId: broker.nodeId }, 'message delivered to local sockets')
    }
  })

  const receipts = createReceiptBatcher({
    flushMs: config.RECEIPT_FLUSH_MS,
    write: async (userId, conversationId, kind, seq) => { await services.messages.acknowledge(userId, conversationId, kind, seq) },
    // Called after a flush, by then the gateway below exists.
    onError: (err, receipt) => gateway.receiptFailed(receipt.connectionId, err)
  })

  // Frame floods cost the node that reads them, so frames are limited per user on each node, in memory:
  // no round trip per frame (a send still pays its shared per-user send limit).
  const frameLimiter = config.rateLimits === null
    ? null
    : createMemoryLimits().limiter('ws-frames', { max: config.WS_FRAME_BURST, windowMs: Math.ceil((config.WS_FRAME_BURST / config.WS_FRAMES_PER_SECOND) * 1000) })

  const sessionDeps: SessionDeps = {
    hub,
    receipts,
    send: (input) => services.messages.send(services.senders.user(input.senderId), input),
    sync: (userId, cursors) => services.sync.sync(userId, cursors),
    publishTyping: (conversationId, userId, isTyping) => services.messages.typing(conversationId, userId, isTyping),
    typingTtlMs: config.TYPING_TTL_MS,
    parseFrame: createFrameParser(config.messageLimits),
    frameLimiter,
    floodCloseAfter: config.WS_FLOOD_CLOSE_AFTER,
    maxPendingFrames: config.WS_MAX_PENDING_FRAMES,
    onError: (err, frameType, connectionId) => app.log.error({ err, frameType, connectionId }, 'websocket frame failed'),
    onFrame: (direction, type) => {
      app.metrics.wsFrames.inc({ direction, type })
      if (type === 'rate_limited') app.metrics.rateLimited.inc({ where: 'ws' })
    }
  }

  const gateway = createGateway({
    hub,
    sessionDeps,
    maxPerAddress: config.WS_MAX_CONNECTIONS_PER_IP,
    connection: {
      maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
      closeGraceMs: config.WS_CLOSE_GRACE_MS,
      onFrameOut: (type) => app.metrics.wsFrames.inc({ direction: 'out', type }),
      onWriteFailed: (reason) => app.metrics.wsDeliveryFailures.inc({ reason }),
      onPingRtt: (seconds) => app.metrics.wsPingRtt.observe(seconds)
    },
    onOpen: () => { app.metrics.wsConnections.inc(); app.metrics.wsOpened.inc() },
    onClose: (reason) => { app.metrics.wsConnections.dec(); app.metrics.wsClosed.inc({ reason }) }
  })

  const beat = setInterval(() => {
    gateway.beat()
    hub.refreshPresence().catch((err) => app.log.warn({ err: (err as Error).message }, 'presence refresh failed'))
  }, config.WS_HEARTBEAT_MS)
  const sweep = setInterval(() => {
    hub.sweepPresence().catch((err) => app.log.warn({ err: (err as Error).message }, 'presence sweep failed'))
  }, Math.max(100, Math.floor(config.PRESENCE_TTL_MS / 2)))
  beat.unref()
  sweep.unref()

  app.decorate('realtime', { hub, receipts, gateway })
  // Registered before the websocket server closes its sockets (1012): flush receipts, end presence.
  app.addHook('preClose', async () => {
    clearInterval(beat)
    clearInterval(sweep)
    await receipts.flush()
    await hub.close()
  })
}, { name: 'realtime', dependencies: ['config', 'store', 'broker', 'presence', 'services', 'websocket', 'metrics'] })
