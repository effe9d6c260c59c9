/**
 * The send path's cached membership check: a removed participant is refused
 * on every node at once (the removal travels through the broker), a new one
 * is never refused, and the cache answers repeated sends without the store.
 */
import t from 'tap'
import { createMemoryBroker, MemoryBus } from '../../src/broker/memory/index.js'
import { createMemoryStore } from '../../src/store/memory/index.js'
import { createMembershipCache } from '../../src/services/membership-cache.js'
import { createPublisher } from '../../src/services/publisher.js'
import { client, register } from '../helper.js'
import { WsClient } from '../ws-client.js'
import { forEachDeployment } from '../realtime/nodes.js'

t.test('positive answers are kept, refusals are not, and forget() reaches the other nodes', async (t) => {
  const store = createMemoryStore()
  const bus = new MemoryBus()
  const [b1, b2] = [createMemoryBroker({ bus }), createMemoryBroker({ bus })]
  const cache = (broker: typeof b1) => createMembershipCache({ store, broker, publish: createPublisher(broker), ttlMs: 60_000, maxEntries: 1000 })
  const [c1, c2] = [cache(b1), cache(b2)]
  t.teardown(() => { c1.close(); c2.close() })
  const at = new Date()
  const conv = await store.conversations.insert({ id: '665f1c2ab4d5e6f7a8b9c0d1', type: 'group', name: 'g', participantIds: ['a', 'b'], createdBy: 'a', lastSeq: 0, version: 0, createdAt: at, updatedAt: at } as never)
  await store.memberships.addMany([
    { conversationId: conv.id, userId: 'a', role: 'owner', joinedAt: at, deliveredSeq: 0, readSeq: 0 },
    { conversationId: conv.id, userId: 'b', role: 'member', joinedAt: at, deliveredSeq: 0, readSeq: 0 }
  ] as never)
  t.same(await c2.check(conv.id, 'b'), { id: conv.id, type: 'group' })
  await c2.check(conv.id, 'b')
  t.match(c2.stats(), { hits: 1, misses: 1 }, 'the second check is a hit')
  await t.rejects(c2.check(conv.id, 'z'), { code: 'FORBIDDEN' }, 'a stranger is refused')
  await store.memberships.addMany([{ conversationId: conv.id, userId: 'z', role: 'member', joinedAt: at, deliveredSeq: 0, readSeq: 0 }] as never)
  t.ok(await c2.check(conv.id, 'z'), 'and accepted once added: refusals are not cached')
  await store.memberships.remove(conv.id, 'b')
  await c1.forget(conv.id, 'b')
  await t.rejects(c2.check(conv.id, 'b'), { code: 'FORBIDDEN' }, 'a removal on one node is refused on the other at once')
})

t.test('a read that started before a removal does not refill the cache', async (t) => {
  const store = createMemoryStore()
  const broker = createMemoryBroker({ bus: new MemoryBus() })
  const cache = createMembershipCache({ store, broker, publish: createPublisher(broker), ttlMs: 60_000, maxEntries: 1000 })
  t.teardown(() => cache.close())
  const at = new Date()
  const conv = await store.conversations.insert({ id: '665f1c2ab4d5e6f7a8b9c0d2', type: 'group', name: 'g', participantIds: ['a', 'b'], createdBy: 'a', lastSeq: 0, version: 0, createdAt: at, updatedAt: at } as never)
  await store.memberships.addMany([{ conversationId: conv.id, userId: 'b', role: 'member', joinedAt: at, deliveredSeq: 0, readSeq: 0 }] as never)
  // The store answers the membership read of the first check from before the removal, late (a slow database).
  const find = store.memberships.find.bind(store.memberships)
  let release = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  store.memberships.find = async (...args) => { const answer = await find(...args); await held; return answer }
  const inFlight = cache.check(conv.id, 'b')
  await new Promise((resolve) => setImmediate(resolve))
  await store.memberships.remove(conv.id, 'b')
  await cache.forget(conv.id, 'b')
  release()
  t.ok(await inFlight, 'the read in flight answers from before the removal')
  store.memberships.find = find
  await t.rejects(cache.check(conv.id, 'b'), { code: 'FORBIDDEN' }, 'but its answer was not kept: the next check asks the store')
})

forEachDeployment(t, 'a participant removed on one node cannot send on another', async (t, nodes) => {
  const [a, b] = [nodes[0]!, nodes[1]!]
  const owner = client(a.app, await register(a.app, 'owner'))
  const member = client(a.app, await register(a.app, 'member'))
  const group = (await owner.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [member.user.id] })).body.id
  const ws = await WsClient.connect(b.base, member.user.accessToken)
  t.teardown(() => ws.close())
  ws.send({ type: 'send_message', conversationId: group, content: 'in', clientMessageId: 'm-1' })
  await ws.waitFor('message_sent')
  t.equal((await owner.del(`/v1/conversations/${group}/participants/${member.user.id}`)).status, 204)
  // Published after the removal's invalidation, so it arrives after it on every node.
  await ws.waitFor('conversation_updated', (f) => !f.conversation.participantIds.includes(member.user.id))
  ws.send({ type: 'send_message', conversationId: group, content: 'out', clientMessageId: 'm-2' })
  const [refused] = await ws.waitFor('error', (f) => f.clientMessageId === 'm-2')
  t.equal(refused!.code, 'UNAUTHORIZED', 'refused at once on the other node')
})
