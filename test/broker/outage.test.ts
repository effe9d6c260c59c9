/**
 * The redis broker across a real Redis outage (a redis-server of this test's
 * own, killed and started again): local delivery goes on, subscribing does not
 * hang, rate limits fall back to this node's memory, and when Redis is back
 * the channels are subscribed again and every node hears of the recovery.
 */
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisProcess } from '../../bench/lib/cluster.js'
import { withLocalLimits } from '../../src/broker/local-limits.js'
import { createRedisBroker } from '../../src/broker/redis/index.js'
import { DependencyUnavailableError } from '../../src/domain/errors.js'
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
  const fallbacks: unknown[] = []
  const a = withLocalLimits(createRedisBroker({ client: c1, prefix: 'o:' }), (err) => fallbacks.push(err))
  const b = createRedisBroker({ client: c2, prefix: 'o:' })
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
  await t.rejects(a.presence.connect('u', 'c', 1000), DependencyUnavailableError, 'presence fails as unavailable')
  const hits = [await a.counters.hit('k', 60_000), await a.counters.hit('k', 60_000)]
  t.same(hits.map((h) => h.count), [1, 2], 'window counters count in memory')
  const takes = [await a.buckets.take('bk', 1, 0.001), await a.buckets.take('bk', 1, 0.001)]
  t.same(takes.map((x) => x.allowed), [true, false], 'token buckets too')
  t.ok(fallbacks.length >= 4 && fallbacks.every((e) => e instanceof DependencyUnavailableError), 'each fallback is reported')

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
  t.equal((await a.counters.hit('k2', 60_000)).count, 1, 'limits are shared through Redis again')
})
