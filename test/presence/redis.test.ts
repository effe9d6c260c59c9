import t from 'tap'
import { Redis } from 'ioredis'
import { createRedisPresence } from '../../src/presence/redis.js'
import { presenceContract } from './contract.js'
import { markSuiteRan, redisTestClient } from '../services.js'

markSuiteRan(t, 'presence-redis')
presenceContract(t, async (t) => {
  const redis = redisTestClient(t)
  if (redis === undefined) return undefined
  // Two nodes, each with its own connection, as two processes would have.
  const other = redis.client.duplicate()
  t.teardown(() => other.disconnect())
  return [createRedisPresence({ client: redis.client, prefix: redis.prefix }), createRedisPresence({ client: other, prefix: redis.prefix })]
})

t.test('an unreachable Redis fails as unavailable', async (t) => {
  const client = new Redis('redis://127.0.0.1:9', { maxRetriesPerRequest: 0, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  await t.rejects(createRedisPresence({ client, prefix: 'x:' }).connect('u', 'c', 1000), { name: 'DependencyUnavailableError', dependency: 'presence' })
})
