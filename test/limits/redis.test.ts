import t from 'tap'
import { createRedisLimits } from '../../src/limits/redis.js'
import { limitsContract } from './contract.js'
import type { RedisClient } from '../../src/redis.js'
import { nodesOn } from '../contract-nodes.js'
import { markSuiteRan, redisClusterTestPair, redisTestPair, unreachableRedis } from '../services.js'

markSuiteRan(t, 'limits-redis')
// Both connections ready: until one is, its hits are counted on the node (rejectIfRedisNotReady).
const onPair = (pair: { clients: [RedisClient, RedisClient], prefix: string } | undefined) => nodesOn(pair, (client, prefix) => createRedisLimits({ client, prefix }))
limitsContract(t, async (t) => onPair(await redisTestPair(t)))
// The same contract on the run's Redis Cluster: each key lives on the shard that owns its slot.
void t.test('on a Redis Cluster', async (t) => {
  markSuiteRan(t, 'limits-redis-cluster')
  limitsContract(t, async (t) => onPair(await redisClusterTestPair(t)))
})

t.test('an unreachable Redis: counted on this node, never open, and reported', async (t) => {
  const client = unreachableRedis(t)
  let fallbacks = 0
  const limiter = createRedisLimits({ client, prefix: 'x:', onFallback: () => fallbacks++ }).limiter('l', { max: 2, windowMs: 60_000 })
  const got = [await limiter.consume('k'), await limiter.consume('k'), await limiter.consume('k')]
  t.same(got.map((d) => d.allowed), [true, true, false], 'the limit holds in memory')
  t.equal(fallbacks, 3, 'each hit counted in memory is reported')
})
