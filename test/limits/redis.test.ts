import t from 'tap'
import { Redis } from 'ioredis'
import { createRedisLimits } from '../../src/limits/redis.js'
import { limitsContract } from './contract.js'
import { markSuiteRan, redisTestClient } from '../services.js'

markSuiteRan(t, 'limits-redis')
limitsContract(t, async (t) => {
  const redis = redisTestClient(t)
  if (redis === undefined) return undefined
  const other = redis.client.duplicate()
  t.teardown(() => other.disconnect())
  // Until a connection is ready, hits are counted on the node (see rejectIfRedisNotReady): wait, as a started node has.
  for (const c of [redis.client, other]) if (c.status !== 'ready') await new Promise((resolve) => c.once('ready', resolve))
  return [createRedisLimits({ client: redis.client, prefix: redis.prefix }), createRedisLimits({ client: other, prefix: redis.prefix })]
})

t.test('an unreachable Redis: counted on this node, never open, and reported', async (t) => {
  const client = new Redis('redis://127.0.0.1:9', { maxRetriesPerRequest: 0, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  let fallbacks = 0
  const limiter = createRedisLimits({ client, prefix: 'x:', onFallback: () => fallbacks++ }).limiter('l', { max: 2, windowMs: 60_000 })
  const got = [await limiter.consume('k'), await limiter.consume('k'), await limiter.consume('k')]
  t.same(got.map((d) => d.allowed), [true, true, false], 'the limit holds in memory')
  t.equal(fallbacks, 3, 'each hit counted in memory is reported')
})
