import fp from 'fastify-plugin'
import type { Revocations } from '../src/revocations/port.js'
import { createMemoryRevocations } from '../src/revocations/memory.js'
import { createRedisRevocations } from '../src/revocations/redis.js'

declare module 'fastify' {
  interface FastifyInstance {
    revocations: Revocations
  }
}

export interface RevocationsPluginOptions {
  /** Use these instead of the ones the config selects (tests share one between two apps). */
  revocations?: Revocations
}

/** Decorates `revocations`: in Redis (on the broker's connection) when REDIS_URL or REDIS_CLUSTER_NODES is set, else in this process. */
export default fp<RevocationsPluginOptions>(async (app, opts) => {
  app.decorate('revocations', opts.revocations ?? (app.sharedRedis !== undefined
    ? createRedisRevocations({ client: app.sharedRedis, prefix: app.redisPrefix })
    : createMemoryRevocations()))
}, { name: 'revocations', dependencies: ['config', 'broker'] })
