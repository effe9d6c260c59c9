import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import fastifyRedis from '@fastify/redis'
import type { Broker } from '../src/broker/port.js'
import { createMemoryBroker } from '../src/broker/memory/index.js'
import { createRedisBroker } from '../src/broker/redis/index.js'
import { countedBroker } from '../src/metrics.js'
import { connectRedis, isCluster, type RedisClient } from '../src/redis.js'

declare module 'fastify' {
  interface FastifyInstance {
    broker: Broker
    /** Prefix of every Redis key and channel this app uses. */
    redisPrefix: string
    /** The Redis connection (one Redis or a cluster) the broker, presence, limits and revocations share; undefined without Redis. */
    sharedRedis: RedisClient | undefined
  }
}

export interface BrokerPluginOptions {
  /** Use this broker instead of the one the config selects (tests join two apps on one memory bus). */
  broker?: Broker
  /** Prefix for Redis channels and keys (tests give each file its own). */
  redisPrefix?: string
}

/**
 * Decorates `broker`: Redis pub/sub when REDIS_URL is set (sharded pub/sub
 * on a Redis Cluster when REDIS_CLUSTER_NODES is), else the in-process one.
 * It owns the Redis connection (`sharedRedis`; one Redis is also
 * @fastify/redis' `app.redis`), which the presence, limits and revocations
 * plugins use too.
 */
export default fp<BrokerPluginOptions>(async (app, opts) => {
  let broker = opts.broker
  let closeClient = async () => {}
  const prefix = opts.redisPrefix ?? app.config.REDIS_PREFIX
  app.decorate('redisPrefix', prefix)
  // Our own client, closed below after the broker, without failing the shutdown when Redis is already gone
  // (given a URL, @fastify/redis would add a quit() of its own that rejects on a closed connection).
  // No offline queue (src/redis.ts): while Redis is away commands fail at once (publish after the local delivery,
  // presence, shared limits) instead of holding sends; the broker recovers what it can when Redis is back.
  const client = opts.broker === undefined ? connectRedis(app.config, 'chat-backend') : undefined
  app.decorate<RedisClient | undefined>('sharedRedis', client)
  if (client !== undefined) {
    if (!isCluster(client)) await app.register(fastifyRedis, { client, closeClient: false })
    // Connection errors surface in failed commands and /health/ready; without a listener ioredis prints them as unhandled.
    client.on('error', (err: Error) => app.log.debug({ err: err.message }, 'redis connection error'))
    broker = createRedisBroker({ client, nodeId: randomUUID(), prefix, pingTimeoutMs: app.config.DEPENDENCY_TIMEOUT_MS })
    broker.onRecover(() => app.log.info('redis link recovered: subscriptions restored; local clients are told to sync'))
    closeClient = async () => { await client.quit().catch(() => client.disconnect()) }
  }
  broker ??= createMemoryBroker()
  const chosen = broker
  app.decorate('broker', countedBroker(chosen, app.metrics))
  app.addHook('onClose', async () => {
    if (opts.broker === undefined) await chosen.close()
    await closeClient()
  })
}, { name: 'broker', dependencies: ['config', 'metrics'] })
