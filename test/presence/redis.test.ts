import t from 'tap'
import { createRedisPresence } from '../../src/presence/redis.js'
import { presenceContract } from './contract.js'
import { markSuiteRan, redisTestPair, unreachableRedis } from '../services.js'

markSuiteRan(t, 'presence-redis')
presenceContract(t, async (t) => {
  const pair = await redisTestPair(t)
  return pair && [createRedisPresence({ client: pair.clients[0], prefix: pair.prefix }), createRedisPresence({ client: pair.clients[1], prefix: pair.prefix })]
})

t.test('an unreachable Redis fails as unavailable', async (t) => {
  const client = unreachableRedis(t)
  await t.rejects(createRedisPresence({ client, prefix: 'x:' }).connect('u', 'c', 1000), { name: 'DependencyUnavailableError', dependency: 'presence' })
})
