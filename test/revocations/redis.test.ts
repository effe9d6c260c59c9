import t from 'tap'
import { createRedisRevocations } from '../../src/revocations/redis.js'
import { revocationsContract } from './contract.js'
import type { RedisClient } from '../../src/redis.js'
import { nodesOn } from '../contract-nodes.js'
import { markSuiteRan, redisClusterTestPair, redisTestPair, unreachableRedis } from '../services.js'

markSuiteRan(t, 'revocations-redis')
const onPair = (pair: { clients: [RedisClient, RedisClient], prefix: string } | undefined) => nodesOn(pair, (client, prefix) => createRedisRevocations({ client, prefix }))
revocationsContract(t, async (t) => onPair(await redisTestPair(t)))
// The same contract on the run's Redis Cluster: each key lives on the shard that owns its slot.
void t.test('on a Redis Cluster', async (t) => {
  markSuiteRan(t, 'revocations-redis-cluster')
  revocationsContract(t, async (t) => onPair(await redisClusterTestPair(t)))
})

t.test('an unreachable Redis fails as unavailable', async (t) => {
  const r = createRedisRevocations({ client: unreachableRedis(t), prefix: 'x:' })
  await t.rejects(r.isRevoked('s'), { name: 'DependencyUnavailableError', dependency: 'revocations' })
  await t.rejects(r.revoke('s', 1000), { name: 'DependencyUnavailableError', dependency: 'revocations' })
})
