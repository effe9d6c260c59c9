import t from 'tap'
import { createRedisBroker } from '../../src/broker/redis/index.js'
import { brokerContract } from './contract.js'
import { markSuiteRan, redisTestClient } from '../services.js'

markSuiteRan(t, 'broker-redis')
brokerContract(t, async (t) => {
  const redis = redisTestClient(t)
  if (redis === undefined) return undefined
  // Two nodes, each with its own command connection, as two processes would have.
  const other = redis.client.duplicate()
  t.teardown(() => other.disconnect())
  return [
    createRedisBroker({ client: redis.client, prefix: redis.prefix }),
    createRedisBroker({ client: other, prefix: redis.prefix })
  ]
})

t.test('a malformed envelope on the wire is ignored', async (t) => {
  const redis = redisTestClient(t)
  if (redis === undefined) return
  const broker = createRedisBroker({ client: redis.client, prefix: redis.prefix })
  t.teardown(() => broker.close())
  const got: unknown[] = []
  broker.onMessage((m) => got.push(m.payload))
  await broker.subscribe('c')
  await redis.client.publish(`${redis.prefix}c`, 'not json')
  const otherClient = redis.client.duplicate()
  const other = createRedisBroker({ client: otherClient, prefix: redis.prefix })
  t.teardown(async () => { await other.close(); otherClient.disconnect() })
  await other.publish('c', { ok: true })
  await new Promise((r) => setTimeout(r, 200))
  t.same(got, [{ ok: true }])
})

t.test('an unreachable Redis makes ping fail as unavailable', async (t) => {
  const { Redis } = await import('ioredis')
  const client = new Redis('redis://127.0.0.1:9', { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null })
  client.on('error', () => {})
  const broker = createRedisBroker({ client, pingTimeoutMs: 500 })
  t.teardown(async () => { await broker.close(); client.disconnect() })
  await t.rejects(broker.ping(), { name: 'DependencyUnavailableError', dependency: 'broker' })
})
