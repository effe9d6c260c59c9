import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import fastifyRedis from '@fastify/redis'
import { Redis } from 'ioredis'
import type { Broker } from '../src/broker/port.js'
import { createMemoryBroker } from '../src/broker/memory/index.js'
import { createRedisBroker } from '../src/broker/redis/index.js'
import { countedBroker } from '../src/metrics.js'

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
 * Decorates `broker`: Redis pub/sub when REDIS_URL is set, else the
 * in-process one. It owns the Redis connection (through @fastify/redis, as
 * `app.redis`), which the presence and limits plugins use too.
 */
export default fp<BrokerPluginOptions>(async (app, opts) => {
  let broker: Broker
  let closeClient = async () => {}
  const prefix = opts.redisPrefix ?? app.config.REDIS_PREFIX
  app.decorate('redisPrefix', prefix)
  if (opts.broker !== undefined) {
    broker = opts.broker
  } else if (app.config.REDIS_URL !== undefined) {
    // Our own client, closed below after the broker, without failing the shutdown when Redis is already gone
    // (given a URL, @fastify/redis would add a quit() of its own that rejects on a closed connection).
    // No offline queue: while Redis is away commands fail at once (publish after the local delivery, presence,
    // shared limits) instead of holding sends; the broker recovers what it can when Redis is back.
    const client = new Redis(app.config.REDIS_URL, { maxRetriesPerRequest: 2, enableOfflineQueue: false, connectionName: 'chat-backend' })
    await app.register(fastifyRedis, { client, closeClient: false })
    // Connection errors surface in failed commands and /health/ready; without a listener ioredis prints them as unhandled.
    client.on('error', (err: Error) => app.log.debug({ err: err.message }, 'redis connection error'))
    broker = createRedisBroker({ client, nodeId: randomUUID(), prefix, pingTimeoutMs: app.config.DEPENDENCY_TIMEOUT_MS })
    broker.onRecover(() => app.log.info('redis link recovered: subscriptions restored; local clients are told to sync'))
    closeClient = async () => { await client.quit().catch(() => client.disconnect()) }
  } else {
    broker = createMemoryBroker()
  }
  app.decorate('broker', countedBroker(broker, app.metrics))
  app.addHook('onClose', async () => {
    if (opts.broker === undefined) await broker.close()
    await closeClient()
  })
}, { name: 'broker', dependencies: ['config', 'metrics'] })
