/**
 * The send path's group commit against each store: sends of one conversation
 * that arrive while a batch is written share the next one, are stored in
 * arrival order with contiguous seqs, published in seq order, and each answered
 * once; a seq taken by another node and a repeated clientMessageId inside one
 * batch are settled without losing or duplicating a message.
 */
import t, { type Test } from 'tap'
import { createMemoryBroker } from '../../src/broker/memory/index.js'
import { createMemoryStore } from '../../src/store/memory/index.js'
import { createMongoStore } from '../../src/store/mongo/index.js'
import { createMessageService } from '../../src/services/messages.js'
import { createMembershipCache } from '../../src/services/membership-cache.js'
import { createPublisher } from '../../src/services/publisher.js'
import { createSendPipeline } from '../../src/services/send-pipeline.js'
import { createAttachmentService } from '../../src/services/attachments.js'
import { createAttachmentLinks } from '../../src/domain/attachments.js'
import { createSenders } from '../../src/services/senders.js'
import { newId } from '../../src/store/ids.js'
import type { Store } from '../../src/store/port.js'
import { markSuiteRan, mongoTestUrl, testMongoOptions } from '../services.js'

markSuiteRan(t, 'store-mongo')

async function setup (t: Test, store: Store) {
  await store.init()
  const shared = createMemoryBroker()
  const broker = shared
  const published: number[] = []
  const ops = { findById: 0, insertMany: 0, setLastMessage: 0 }
  for (const op of ['findById', 'setLastMessage'] as const) {
    const real = store.conversations[op].bind(store.conversations) as (...a: unknown[]) => Promise<unknown>
    ;(store.conversations as unknown as Record<string, unknown>)[op] = async (...a: unknown[]) => { ops[op]++; return real(...a) }
  }
  const realInsertMany = store.messages.insertMany.bind(store.messages)
  store.messages.insertMany = async (m) => { ops.insertMany++; return realInsertMany(m) }
  const at = new Date()
  const conv = await store.conversations.insert({ id: newId(), type: 'group', name: 'g', participantIds: ['a', 'b'], createdBy: 'a', lastSeq: 0, version: 0, createdAt: at, updatedAt: at } as never)
  await store.memberships.addMany(['a', 'b'].map((userId) => ({ conversationId: conv.id, userId, role: 'member', joinedAt: at, deliveredSeq: 0, readSeq: 0 })) as never)
  await broker.subscribe(`conversation:${conv.id}`)
  broker.onMessage((m) => { const e = (m.payload as { event: { type: string, message?: { seq: number } } }).event; if (e.type === 'new_message') published.push(e.message!.seq) })
  const lookups = { count: 0 }
  const conflicts = { count: 0 }
  const realLookup = store.messages.findByClientMessageId.bind(store.messages)
  store.messages.findByClientMessageId = async (...a) => { lookups.count++; return realLookup(...a) }
  /**
   * A node: a message service of its own (its own queue, known seqs and recent
   * sends) over the shared store, on the shared broker (subscribed to the
   * conversation), or on one of its own that hears nothing of the others.
   */
  const node = (broker = shared) => {
    const publish = createPublisher(broker)
    const members = createMembershipCache({ store, broker, publish, ttlMs: 60_000, maxEntries: 1000 })
    const links = createAttachmentLinks(Buffer.from('k'.repeat(32)), 3600)
    const pipeline = createSendPipeline({ store, broker, publish, links, onSeqConflict: () => conflicts.count++ })
    t.teardown(() => { members.close(); pipeline.close() })
    const attachments = createAttachmentService({ store, links, maxBytes: 1e6, quotaBytes: 1e9, orphanTtlMs: 86_400_000, uploadGraceMs: 3600_000 })
    const service = createMessageService({ store, pipeline, publish, links, attachments, limits: { maxTextLength: 4000, maxAttachments: 10 } })
    const senders = createSenders({ store, members, limiters: null })
    return (senderId: string, clientMessageId: string, content = clientMessageId) =>
      service.send(senders.user(senderId), { conversationId: conv.id, content, clientMessageId, source: 'ws' })
  }
  t.teardown(() => broker.close())
  return { conv, send: node(), node, published, ops, lookups, conflicts }
}

function suite (t: Test, name: string, open: (t: Test) => Promise<Store | undefined>) {
  t.test(name, async (t) => {
    t.test('sends in flight together share commits and keep their order', async (t) => {
      const store = await open(t)
      if (store === undefined) return
      const { conv, send, published, ops } = await setup(t, store)
      await send('a', 'warm-up a')
      await send('b', 'warm-up b')
      for (const op of Object.keys(ops) as Array<keyof typeof ops>) ops[op] = 0
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => send(i % 2 === 0 ? 'a' : 'b', `m${i}`)))
      t.same(results.map((r) => r.message.seq), Array.from({ length: 40 }, (_, i) => i + 3), 'seqs 3..42 in the order sent')
      t.ok(results.every((r) => r.created))
      t.same(published, [1, 2, ...results.map((r) => r.message.seq)], 'each published once, in seq order')
      t.ok(ops.insertMany < 40, `40 sends took ${ops.insertMany} inserts and ${ops.setLastMessage} conversation updates`)
      t.equal(ops.setLastMessage, ops.insertMany, 'one conversation update per insert')
      t.equal(ops.findById, 0, 'no read of the conversation: its lastSeq and the membership are kept in mind')
      const page = await store.messages.page(conv.id, { afterSeq: 2, limit: 100 })
      t.same(page.items.map((m) => m.content), results.map((r) => r.message.content), 'history holds each once, in order')
      const after = await store.conversations.findById(conv.id)
      t.equal(after?.lastMessage?.seq, 42, 'the last message is the newest')
      t.equal(after?.lastSeq, 42)
    })

    t.test('a seq another node took: the batch stops there and the rest take new seqs, in order', async (t) => {
      const store = await open(t)
      if (store === undefined) return
      const { conv, send, published, conflicts } = await setup(t, store)
      await send('a', 'warm-up')
      // Another node's message at seq 3, inserted without this node's allocation seeing it.
      await store.messages.insertMany([{ id: newId(), conversationId: conv.id, seq: 3, senderId: 'b', content: 'elsewhere', contentType: 'text', attachments: [], clientMessageId: 'other-node', version: 3, sentAt: new Date() }])
      const hold = send('a', 'holds the queue')
      const rest = ['x1', 'x2', 'x3', 'x4'].map((id) => send('b', id))
      const results = await Promise.all([hold, ...rest])
      const seqs = results.map((r) => r.message.seq)
      t.same(seqs, [...seqs].sort((x, y) => x - y), `stored in the order sent (${seqs.join(', ')})`)
      t.notOk(seqs.includes(3), 'nothing took the other node\'s seq')
      t.equal(conflicts.count, 1, 'one conflict, reported')
      const page = await store.messages.page(conv.id, { limit: 100 })
      t.same(page.items.map((m) => m.content), ['warm-up', 'holds the queue', 'elsewhere', 'x1', 'x2', 'x3', 'x4'], 'each message once, in the order sent')
      t.equal(page.items.length, 7)
      t.equal(new Set(published).size, published.length, 'nothing published twice')
      t.same(published, [1, ...seqs], 'every new message published, in seq order')
    })

    resends(t, open)

    t.test('two nodes sending in turn, or at once, each find the seqs the other took', async (t) => {
      const store = await open(t)
      if (store === undefined) return
      const { conv, send, node, conflicts } = await setup(t, store)
      const deaf = createMemoryBroker()
      t.teardown(() => deaf.close())
      const other = node(deaf)
      const seqs: number[] = []
      for (let i = 0; i < 6; i++) seqs.push((await (i % 2 === 0 ? send : other)('a', `turn${i}`)).message.seq)
      t.same(seqs, [1, 2, 3, 4, 5, 6], 'one message per seq, in the order sent, no gap')
      t.equal(conflicts.count, 4, 'from the third turn on, each found the other node\'s message (nothing told these nodes of it)')
      // Concurrent sends from both nodes: every message stored once, seqs unique.
      const both = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? send : other)('b', `both${i}`)))
      t.equal(new Set(both.map((r) => r.message.seq)).size, 20, 'no seq given twice')
      const page = await store.messages.page(conv.id, { limit: 100 })
      t.equal(page.items.length, 26, 'each stored once')
      t.same(page.items.map((m) => m.seq), [...page.items.map((m) => m.seq)].sort((x, y) => x - y))
    })

    t.test('a node learns the seqs other nodes stored from its own subscription: sending in turn meets no conflict', async (t) => {
      const store = await open(t)
      if (store === undefined) return
      const { send, node, conflicts } = await setup(t, store)
      const other = node()
      const seqs: number[] = []
      for (let i = 0; i < 6; i++) seqs.push((await (i % 2 === 0 ? send : other)('a', `turn${i}`)).message.seq)
      t.same(seqs, [1, 2, 3, 4, 5, 6])
      t.equal(conflicts.count, 0, 'each heard the other\'s message on the conversation\'s channel')
    })

    t.test('the same clientMessageId twice in one batch is stored once; the copy is answered with the first', async (t) => {
      const store = await open(t)
      if (store === undefined) return
      const { conv, send, published } = await setup(t, store)
      const hold = send('a', 'first in the queue')
      const [one, copy, other] = await Promise.all([send('b', 'dup'), send('b', 'dup'), send('a', 'dup')])
      await hold
      t.equal(one.created, true)
      t.equal(copy.created, false, 'the copy is a resend')
      t.equal(copy.message.id, one.message.id)
      t.equal(other.created, true, 'another sender\'s clientMessageId is its own')
      t.equal((await store.messages.page(conv.id, { limit: 100 })).items.length, 3)
      t.equal(published.length, 3)
    })
  })
}

function resends (t: Test, open: (t: Test) => Promise<Store | undefined>) {
  t.test('a resend to the node that stored the first copy is answered without the store', async (t) => {
    const store = await open(t)
    if (store === undefined) return
    const { send, ops, lookups } = await setup(t, store)
    const first = await send('a', 'once')
    const before = { ...ops }
    const again = await send('a', 'once', 'a different body')
    t.equal(again.created, false)
    t.equal(again.message.id, first.message.id)
    t.equal(again.message.content, 'once', 'the first answer, again')
    t.same(ops, before, 'no seq, no insert, no lastMessage update')
    t.equal(lookups.count, 0, 'no lookup either')
  })

  t.test('a resend to another node is refused by the unique index, answered with the first, and its seq goes to the next send', async (t) => {
    const store = await open(t)
    if (store === undefined) return
    const { conv, send, node, published } = await setup(t, store)
    const other = node()
    const first = await send('a', 'm1')
    const hold = other('b', 'holds the queue')
    const [resent, next] = await Promise.all([other('a', 'm1'), other('a', 'm2')])
    await hold
    t.equal(resent.created, false)
    t.equal(resent.message.id, first.message.id)
    t.equal(next.created, true)
    const page = await store.messages.page(conv.id, { limit: 10 })
    t.same(page.items.map((m) => m.content), ['m1', 'holds the queue', 'm2'], 'stored once each, in order')
    t.same(published, page.items.map((m) => m.seq), 'published once each')
    t.same(page.items.map((m) => m.seq), [1, 2, 3], 'no seq left unused')
    t.equal((await store.conversations.findById(conv.id))!.lastSeq, 3)
  })
}

suite(t, 'memory store', async () => createMemoryStore())
suite(t, 'mongo store', async (t) => {
  const url = mongoTestUrl(t)
  if (url === undefined) return undefined
  const store = createMongoStore(testMongoOptions(url))
  t.teardown(() => store.close())
  return store
})
