import t from 'tap'
import { createRedisLimits } from '../../src/limits/redis.js'
import { limitsContract } from './contract.js'
import { markSuiteRan, redisTestPair, unreachableRedis } from '../services.js'

markSuiteRan(t, 'limits-redis')
// Both connections ready: until one is, its hits are counted on the node (rejectIfRedisNotReady).
limitsContract(t, async (t) => {
  const pair = await redisTestPair(t)
  return pair && [createRedisLimits({ client: pair.clients[0], prefix: pair.prefix }), createRedisLimits({ client: pair.clients[1], prefix: pair.prefix })]
})

t.test('an unreachable Redis: counted on this node, never open, and reported', async (t) => {
  const client = unreachableRedis(t)
  let fallbacks = 0
  const limiter = createRedisLimits({ client, prefix: 'x:', onFallback: () => fallbacks++ }).limiter('l', { max: 2, windowMs: 60_000 })
  const got = [await limiter.consume('k'), await limiter.consume('k'), await limiter.consume('k')]
  t.same(got.map((d) => d.allowed), [true, true, false], 'the limit holds in memory')
  t.equal(fallbacks, 3, 'each hit counted in memory is reported')
})
