import t from 'tap'
import { createRedisRevocations } from '../../src/revocations/redis.js'
import { revocationsContract } from './contract.js'
import { markSuiteRan, redisTestPair, unreachableRedis } from '../services.js'

markSuiteRan(t, 'revocations-redis')
revocationsContract(t, async (t) => {
  const pair = await redisTestPair(t)
  return pair && [createRedisRevocations({ client: pair.clients[0], prefix: pair.prefix }), createRedisRevocations({ client: pair.clients[1], prefix: pair.prefix })]
})

t.test('an unreachable Redis fails as unavailable', async (t) => {
  const r = createRedisRevocations({ client: unreachableRedis(t), prefix: 'x:' })
  await t.rejects(r.isRevoked('s'), { name: 'DependencyUnavailableError', dependency: 'revocations' })
  await t.rejects(r.revoke('s', 1000), { name: 'DependencyUnavailableError', dependency: 'revocations' })
})
