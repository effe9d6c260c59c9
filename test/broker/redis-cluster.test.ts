/**
 * The broker contract on a Redis Cluster (the run's six processes), where
 * pub/sub is sharded: a channel lives on the master that owns its slot.
 */
import { randomUUID } from 'node:crypto'
import calculateSlot from 'cluster-key-slot'
import t, { type Test } from 'tap'
import type { Cluster } from 'ioredis'
import { createRedisBroker } from '../../src/broker/redis/index.js'
import { brokerContract, listeningOn } from './contract.js'
import { nodesOn } from '../contract-nodes.js'
import { markSuiteRan, redisClusterTestClient, redisClusterTestPair } from '../services.js'

markSuiteRan(t, 'broker-redis-cluster')
const broker = (client: Cluster, prefix: string) => createRedisBroker({ client, prefix, nodeId: randomUUID(), pingTimeoutMs: 2000 })
brokerContract(t, async (t) => {
  const pair = await redisClusterTestPair(t)
  return nodesOn(pair, broker)
})

/** The master that owns a channel's slot, by the cluster's own answer, and the other masters. */
async function shardsOf (t: Test, client: Cluster, wireChannel: string) {
  const masters = client.nodes('master')
  const slot = calculateSlot(wireChannel)
  t.equal(await masters[0]!.cluster('KEYSLOT', wireChannel), slot, 'our slot is the cluster\'s')
  const owner = client.slots[slot]![0]!
  return { owner: masters.find((m) => `${m.options.host}:${m.options.port}` === owner)!, others: masters.filter((m) => `${m.options.host}:${m.options.port}` !== owner) }
}

t.test('sharded pub/sub: a channel is subscribed only on the master owning its slot, and channels spread over the masters', async (t) => {
  const pair = await redisClusterTestPair(t)
  if (pair === undefined) return
  const [a, b] = [broker(pair.clients[0], pair.prefix), broker(pair.clients[1], pair.prefix)]
  t.teardown(async () => { await a.close(); await b.close() })
  const channels = Array.from({ length: 24 }, (_, i) => `conversation:${i}`)
  for (const c of channels) await b.subscribe(c)
  const owners = new Set<number>()
  for (const c of channels) {
    const { owner, others } = await shardsOf(t, pair.clients[0], pair.prefix + c)
    owners.add(owner.options.port!)
    t.same(await owner.call('PUBSUB', 'SHARDNUMSUB', pair.prefix + c), [pair.prefix + c, 1], `${c}: one subscriber on its owner`)
    for (const other of others) t.same(await other.call('PUBSUB', 'SHARDNUMSUB', pair.prefix + c), [pair.prefix + c, 0], `${c}: none on another master`)
    t.same(await owner.call('PUBSUB', 'NUMSUB', pair.prefix + c), [pair.prefix + c, 0], `${c}: no classic subscription`)
  }
  t.equal(owners.size, 3, 'the channels of 24 conversations live on all three masters')
  const got: unknown[] = []
  b.onMessage((m) => { if (m.channel !== 'control') got.push(m.payload) })
  for (const [i, c] of channels.entries()) await a.publish(c, { i })
  const deadline = Date.now() + 3000
  while (got.length < channels.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.same(got.map((p) => (p as { i: number }).i).sort((x, y) => x - y), channels.map((_, i) => i), 'every publication arrives once')
  await b.unsubscribe('conversation:0')
  const { owner } = await shardsOf(t, pair.clients[0], `${pair.prefix}conversation:0`)
  t.same(await owner.call('PUBSUB', 'SHARDNUMSUB', `${pair.prefix}conversation:0`), [`${pair.prefix}conversation:0`, 0], 'unsubscribed on its owner')
})

t.test('a publication on an unsubscribed channel reaches no one, and a classic PUBLISH of the same name is not ours', async (t) => {
  const redis = await redisClusterTestClient(t)
  if (redis === undefined) return
  const got = await listeningOn(t, broker(redis.client, redis.prefix), 'c')
  await redis.client.publish(`${redis.prefix}c`, JSON.stringify({ o: 'elsewhere', p: 'classic' }))
  await redis.client.spublish(`${redis.prefix}c`, 'not json')
  await redis.client.spublish(`${redis.prefix}d`, JSON.stringify({ o: 'elsewhere', p: 'other channel' }))
  await redis.client.spublish(`${redis.prefix}c`, JSON.stringify({ o: 'elsewhere', p: 'sharded' }))
  await new Promise((r) => setTimeout(r, 300))
  t.same(got, ['sharded'], 'only the sharded publication on the subscribed channel, malformed ones ignored')
})
