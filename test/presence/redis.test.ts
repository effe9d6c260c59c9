import t from 'tap'
import { createRedisPresence } from '../../src/presence/redis.js'
import { presenceContract } from './contract.js'
import type { RedisClient } from '../../src/redis.js'
import { nodesOn } from '../contract-nodes.js'
import { markSuiteRan, redisClusterTestPair, redisTestPair, unreachableRedis } from '../services.js'

markSuiteRan(t, 'presence-redis')
const onPair = (pair: { clients: [RedisClient, RedisClient], prefix: string } | undefined) => nodesOn(pair, (client, prefix) => createRedisPresence({ client, prefix }))
presenceContract(t, async (t) => onPair(await redisTestPair(t)))
// The same contract on the run's Redis Cluster: each key lives on the shard that owns its slot.
void t.test('on a Redis Cluster', async (t) => {
  markSuiteRan(t, 'presence-redis-cluster')
  presenceContract(t, async (t) => onPair(await redisClusterTestPair(t)))
})

t.test('an unreachable Redis fails as unavailable', async (t) => {
  const client = unreachableRedis(t)
  await t.rejects(createRedisPresence({ client, prefix: 'x:' }).connect('u', 'c', 1000), { name: 'DependencyUnavailableError', dependency: 'presence' })
})
