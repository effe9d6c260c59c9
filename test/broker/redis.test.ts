import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { Redis } from 'ioredis'
import { createRedisBroker } from '../../src/broker/redis/index.js'
import { brokerContract, listeningOn } from './contract.js'
import { markSuiteRan, redisTestClient, redisTestPair, unreachableRedis } from '../services.js'

markSuiteRan(t, 'broker-redis')
const broker = (client: Redis, prefix: string, pingTimeoutMs = 2000) => createRedisBroker({ client, prefix, nodeId: randomUUID(), pingTimeoutMs })
brokerContract(t, async (t) => {
  const pair = await redisTestPair(t)
  return pair && [broker(pair.clients[0], pair.prefix), broker(pair.clients[1], pair.prefix)]
})

t.test('a malformed envelope on the wire is ignored', async (t) => {
  const redis = redisTestClient(t)
  if (redis === undefined) return
  const got = await listeningOn(t, broker(redis.client, redis.prefix), 'c')
  await redis.client.publish(`${redis.prefix}c`, 'not json')
  const otherClient = redis.client.duplicate()
  const other = broker(otherClient, redis.prefix)
  t.teardown(async () => { await other.close(); otherClient.disconnect() })
  await other.publish('c', { ok: true })
  await new Promise((r) => setTimeout(r, 200))
  t.same(got, [{ ok: true }])
})

t.test('an unreachable Redis makes ping fail as unavailable', async (t) => {
  const unreachable = broker(unreachableRedis(t), 'x:', 500)
  t.teardown(() => unreachable.close())
  await t.rejects(unreachable.ping(), { name: 'DependencyUnavailableError', dependency: 'broker' })
})
