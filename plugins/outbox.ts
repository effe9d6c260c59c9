import fp from 'fastify-plugin'
import { createDispatcher, type Dispatcher } from '../src/services/dispatcher.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** This node's delivery of outgoing events (every node runs one). */
    dispatcher: Dispatcher
  }
}

/** How often the outbox gauges are read from the store. */
const GAUGE_EVERY_MS = 5000

/**
 * Outgoing events: this node's dispatcher, woken when this node records
 * events and polling for the rest (other nodes' events, retries that come due).
 */
export default fp(async (app) => {
  const { config, store, metrics } = app
  const dispatcher = createDispatcher({
    store,
    events: app.services.events,
    presence: app.presence,
    allowPrivate: config.eventEndpointsAllowPrivate,
    retry: { baseMs: config.EVENT_RETRY_BASE_MS, maxMs: config.EVENT_RETRY_MAX_MS, forMs: config.EVENT_RETRY_FOR_MS },
    timeoutMs: config.EVENT_DELIVERY_TIMEOUT_MS,
    maxInFlight: config.EVENT_MAX_IN_FLIGHT,
    maxInFlightPerEndpoint: Math.min(config.EVENT_MAX_IN_FLIGHT, config.EVENT_MAX_IN_FLIGHT_PER_ENDPOINT),
    leaseMs: config.EVENT_LEASE_MS,
    pollMs: config.EVENT_POLL_INTERVAL_MS,
    retentionMs: config.EVENT_LOG_RETENTION_MS,
    onOutcome: (outcome) => metrics.eventDeliveries.inc({ outcome }),
    onError: (err) => app.log.warn({ err: (err as Error).message }, 'outgoing events: a dispatch step failed; what it claimed is taken up again when its claim runs out')
  })
  app.decorate('dispatcher', dispatcher)
  const remove = app.onEventsRecorded(() => dispatcher.wake())
  const gauges = setInterval(() => {
    store.outbox.backlog().then(({ depth, oldest }) => {
      metrics.outboxDepth.set(depth)
      metrics.outboxOldestAge.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest.getTime()) / 1000))
    }, () => {})
  }, GAUGE_EVERY_MS)
  gauges.unref()
  app.addHook('onReady', async () => { dispatcher.start() })
  app.addHook('onClose', async () => {
    remove()
    clearInterval(gauges)
    await dispatcher.stop()
  })
}, { name: 'outbox', dependencies: ['config', 'store', 'presence', 'services', 'metrics'] })
