import fp from 'fastify-plugin'
import type { Limits } from '../src/limits/port.js'
import { createMemoryLimits } from '../src/limits/memory.js'
import { createRedisLimits } from '../src/limits/redis.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The rate limits of the services, the websocket and (as @fastify/rate-limit's store) the HTTP routes. */
    limits: Limits
  }
}

export interface LimitsPluginOptions {
  /** Use these instead of the ones the config selects (tests share one between two apps). */
  limits?: Limits
}

/** How often a Redis outage is logged while limits are counted per node. */
const FALLBACK_WARN_EVERY_MS = 10_000

/**
 * Decorates `limits`: counted in Redis (on the broker's connection) when
 * REDIS_URL or REDIS_CLUSTER_NODES is set, and per node while it does not answer; else in this process.
 */
export default fp<LimitsPluginOptions>(async (app, opts) => {
  let warnedAt = 0
  const onFallback = () => {
    if (Date.now() - warnedAt < FALLBACK_WARN_EVERY_MS) return
    warnedAt = Date.now()
    app.log.warn('redis unavailable: rate limits are counted per node until it is back')
  }
  app.decorate('limits', opts.limits ?? (app.sharedRedis !== undefined
    ? createRedisLimits({ client: app.sharedRedis, prefix: app.redisPrefix, onFallback })
    : createMemoryLimits()))
}, { name: 'limits', dependencies: ['config', 'broker'] })
