/**
 * The redis broker across a real Redis outage (a redis-server of this test's
 * own, killed and started again): local delivery goes on, subscribing does not
 * hang, presence fails as unavailable, rate limits fall back to this node's
 * memory, and when Redis is back the channels are subscribed again, every node
 * hears of the recovery, and limits are shared again.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisProcess } from '../../bench/lib/cluster.js'
import { createRedisBroker } from '../../src/broker/redis/index.js'
import { DependencyUnavailableError } from '../../src/domain/errors.js'
import { createRedisLimits } from '../../src/limits/redis.js'
import { createRedisPresence } from '../../src/presence/redis.js'
import { which } from '../../scripts/services.mjs'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a Redis outage: local delivery, per-node limits, then resubscription and a recovery signal on every node', async (t) => {
  if (which('redis-server') === null) {
    if (process.env.CI === 'true') t.fail('redis-server is not installed')
    else void t.test('redis-server is not installed', { skip: true }, () => {})
    return
  }
  const redis = await RedisProcess.start()
  t.teardown(() => redis.stop())
  const connect = async () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 2, enableOfflineQueue: false, retryStrategy: () => 100 })
    client.on('error', () => {})
    await new Promise((resolve) => client.once('ready', resolve))
    return client
  }
  const [c1, c2] = [await connect(), await connect()]
  let fallbacks = 0
  const a = createRedisBroker({ client: c1, prefix: 'o:', nodeId: randomUUID(), pingTimeoutMs: 1000 })
  const b = createRedisBroker({ client: c2, prefix: 'o:', nodeId: randomUUID(), pingTimeoutMs: 1000 })
  const presence = createRedisPresence({ client: c1, prefix: 'o:' })
  const limiter = createRedisLimits({ client: c1, prefix: 'o:', onFallback: () => fallbacks++ }).limiter('l', { max: 2, windowMs: 60_000 })
  const sharedLimiter = createRedisLimits({ client: c2, prefix: 'o:' }).limiter('l', { max: 2, windowMs: 60_000 })
  t.teardown(async () => { await a.close(); await b.close(); c1.disconnect(); c2.disconnect() })
  const gotA: unknown[] = []
  const gotB: unknown[] = []
  a.onMessage((m) => { if (m.channel === 'room') gotA.push(m.payload) })
  b.onMessage((m) => { if (m.channel === 'room') gotB.push(m.payload) })
  let recoveredA = 0
  let recoveredB = 0
  a.onRecover(() => recoveredA++)
  b.onRecover(() => recoveredB++)
  await a.subscribe('room')
  await b.subscribe('room')
  await a.publish('room', 1)
  await sleep(100)
  t.same([gotA, gotB], [[1], [1]], 'both nodes hear a publication while Redis is up')

  await redis.stop('SIGKILL')
  await sleep(300)
  await t.rejects(a.publish('room', 2), DependencyUnavailableError, 'publishing to other nodes fails as unavailable...')
  t.same(gotA, [1, 2], '...after this node\'s own subscribers got it')
  const started = Date.now()
  await a.subscribe('later')
  t.ok(Date.now() - started < 1000, 'subscribing does not wait for Redis')
  await t.rejects(presence.connect('u', 'c', 1000), DependencyUnavailableError, 'presence fails as unavailable')
  const hits = [await limiter.consume('k'), await limiter.consume('k'), await limiter.consume('k')]
  t.same(hits.map((h) => h.allowed), [true, true, false], 'limits count in memory, and still refuse')
  t.equal(fallbacks, 3, 'each fallback is reported')

  await redis.start()
  for (let i = 0; i < 50 && (recoveredA === 0 || recoveredB === 0); i++) await sleep(100)
  t.ok(recoveredA >= 1, 'the node that lost a publication hears of the recovery')
  t.ok(recoveredB >= 1, 'and so does the other node')
  // Another node's recovery signal can come before this node has subscribed again: ask until it hears.
  const laterOnA: unknown[] = []
  a.onMessage((m) => { if (m.channel === 'later') laterOnA.push(m.payload) })
  for (let i = 0; i < 50 && laterOnA.length === 0; i++) {
    await b.publish('later', i)
    await sleep(100)
  }
  t.ok(laterOnA.length > 0, 'the channel asked for during the outage is subscribed')
  await b.publish('room', 3)
  await sleep(200)
  t.same(gotA, [1, 2, 3], 'and those subscribed before it are subscribed again')
  await limiter.consume('k2')
  await limiter.consume('k2')
  t.equal((await sharedLimiter.consume('k2')).allowed, false, 'limits are shared through Redis again')
  t.equal(fallbacks, 3, 'and no longer counted in memory')
})
