import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import fastifyRedis from '@fastify/redis'
import type { Broker } from '../src/broker/port.js'
import { createMemoryBroker } from '../src/broker/memory/index.js'
import { createRedisBroker } from '../src/broker/redis/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    broker: Broker
    /** Prefix of every Redis key and channel this app uses. */
    redisPrefix: string
  }
}

export interface BrokerPluginOptions {
  /** Use this broker instead of the one the config selects (tests join two apps on one memory bus). */
  broker?: Broker
  /** Prefix for Redis channels and keys (tests give each file its own). */
  redisPrefix?: string
}

/**
 * Decorates `broker`: Redis (through @fastify/redis, whose connection also
 * backs the shared rate limits) when REDIS_URL is set, else the in-process one.
 */
export default fp<BrokerPluginOptions>(async (app, opts) => {
  let broker: Broker
  const prefix = opts.redisPrefix ?? app.config.REDIS_PREFIX
  app.decorate('redisPrefix', prefix)
  if (opts.broker !== undefined) {
    broker = opts.broker
  } else if (app.config.REDIS_URL !== undefined) {
    await app.register(fastifyRedis, {
      url: app.config.REDIS_URL,
      closeClient: true,
      maxRetriesPerRequest: 2,
      connectionName: 'chat-backend'
    })
    broker = createRedisBroker({ client: app.redis, nodeId: randomUUID(), prefix })
  } else {
    broker = createMemoryBroker()
  }
  app.decorate('broker', broker)
  app.addHook('onClose', async () => {
    if (opts.broker === undefined) await broker.close()
  })
}, { name: 'broker', dependencies: ['config'] })
