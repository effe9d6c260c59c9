import fp from 'fastify-plugin'
import type { PresenceRegistry } from '../src/presence/port.js'
import { createMemoryPresence } from '../src/presence/memory.js'
import { createRedisPresence } from '../src/presence/redis.js'

declare module 'fastify' {
  interface FastifyInstance {
    presence: PresenceRegistry
  }
}

export interface PresencePluginOptions {
  /** Use this registry instead of the one the config selects (tests share one between two apps). */
  presence?: PresenceRegistry
}

/** Decorates `presence`: in Redis (on the broker's connection) when REDIS_URL or REDIS_CLUSTER_NODES is set, else in this process. */
export default fp<PresencePluginOptions>(async (app, opts) => {
  app.decorate('presence', opts.presence ?? (app.sharedRedis !== undefined
    ? createRedisPresence({ client: app.sharedRedis, prefix: app.redisPrefix })
    : createMemoryPresence()))
}, { name: 'presence', dependencies: ['config', 'broker'] })
