/**
 * The live layer end to end: real websocket clients on real ports, two nodes
 * of one deployment (memory: shared store and bus; mongo+redis: shared
 * database and Redis).
 */
import t, { type Test } from 'tap'
import { client, register, type Client } from '../helper.js'
import { WsClient } from '../ws-client.js'
import { forEachDeployment, type Node } from './nodes.js'

async function user (node: Node, base = 'live'): Promise<Client> {
  return client(node.app, await register(node.app, base))
}

async function connect (t: Test, node: Node, who: Client): Promise<WsClient> {
  const ws = await WsClient.connect(node.base, who.user.accessToken)
  t.teardown(() => ws.close())
  await ws.roundTrip()
  return ws
}

const settle = (ms = 250) => new Promise((r) => setTimeout(r, ms))

forEachDeployment(t, 'a message from node A reaches the other participant and the sender\'s second device on node B, once', async (t, [a, b]) => {
  const alice = await user(a!)
  const bob = await user(a!)
  const id = (await alice.post('/v1/conversations', { type: 'direct', participantIds: [bob.user.id] })).body.id
  const alicePhone = await connect(t, a!, alice)
  const aliceLaptop = await connect(t, b!, alice)
  const bobPhone = await connect(t, b!, bob)

  alicePhone.send({ type: 'send_message', conversationId: id, content: 'hi bob', clientMessageId: 'm-1' })
  const [ack] = await alicePhone.waitFor('message_sent')
  t.match(ack, { clientMessageId: 'm-1', conversationId: id, seq: 1 })
  const [atBob] = await bobPhone.waitFor('new_message')
  const [atLaptop] = await aliceLaptop.waitFor('new_message')
  t.equal(atBob!.message.id, ack!.messageId)
  t.equal(atLaptop!.message.id, ack!.messageId)
  t.match(atBob!.message, { content: 'hi bob', senderId: alice.user.id, seq: 1 })
  await settle()
  t.equal(bobPhone.all('new_message').length, 1, 'exactly once at bob')
  t.equal(aliceLaptop.all('new_message').length, 1, 'exactly once on the second device')
  t.equal(alicePhone.all('new_message').length, 0, 'the sending socket has its ack instead')
})

forEachDeployment(t, 'REST and webhook sends, edits and deletes are delivered live on both nodes', async (t, [a, b]) => {
  const alice = await user(a!)
  const bob = await user(b!)
  const id = (await alice.post('/v1/conversations', { type: 'direct', participantIds: [bob.user.id] })).body.id
  const onA = await connect(t, a!, bob)
  const onB = await connect(t, b!, bob)
  const viaRest = await alice.post(`/v1/conversations/${id}/messages`, { content: 'by rest' })
  const hook = (await alice.post(`/v1/conversations/${id}/webhooks`, { name: 'ci' })).body
  const viaHook = await b!.app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/${hook.token}`, payload: { content: 'by webhook' } })
  t.equal(viaHook.statusCode, 201)
  for (const ws of [onA, onB]) {
    const got = await ws.waitFor('new_message', () => true, 2)
    t.same(got.map((f) => f.message.content), ['by rest', 'by webhook'])
  }
  await alice.patch(`/v1/conversations/${id}/messages/${viaRest.body.id}`, { content: 'edited' })
  await alice.del(`/v1/conversations/${id}/messages/${viaRest.body.id}`)
  for (const ws of [onA, onB]) {
    const [updated] = await ws.waitFor('message_updated')
    t.equal(updated!.message.content, 'edited')
    t.equal(updated!.message.version, 3, 'the edit took the next number (after the two sends)')
    const [deleted] = await ws.waitFor('message_deleted')
    t.same(deleted, { type: 'message_deleted', conversationId: id, messageId: viaRest.body.id, seq: 1, version: 4 })
  }
  await settle()
  t.equal(onA.all('new_message').length, 2, 'no duplicates')
})

forEachDeployment(t, 'presence across nodes: online with the first device, offline with the last', async (t, [a, b]) => {
  const ann = await user(a!)
  const ben = await user(a!)
  await ann.post('/v1/conversations', { type: 'direct', participantIds: [ben.user.id] })
  const watcher = await connect(t, b!, ben)
  const first = await connect(t, a!, ann)
  const [online] = await watcher.waitFor('presence_update', (f) => f.userId === ann.user.id)
  t.match(online, { status: 'online' })
  const second = await connect(t, b!, ann)
  first.close()
  await settle(400)
  t.equal(watcher.all('presence_update', (f) => f.userId === ann.user.id).length, 1, 'no offline while a device remains')
  const rest = await ben.get(`/v1/presence?userIds=${ann.user.id}`)
  t.equal(rest.body.items[0].status, 'online')
  second.close()
  const [, offline] = await watcher.waitFor('presence_update', (f) => f.userId === ann.user.id, 2)
  t.match(offline, { status: 'offline', lastSeen: /Z$/ })
  await settle(200)
  t.equal((await ben.get(`/v1/presence?userIds=${ann.user.id}`)).body.items[0].status, 'offline')
})

forEachDeployment(t, 'typing is relayed to the others and expires when not renewed', async (t, [a, b]) => {
  const ann = await user(a!)
  const ben = await user(a!)
  const id = (await ann.post('/v1/conversations', { type: 'direct', participantIds: [ben.user.id] })).body.id
  const typer = await connect(t, a!, ann)
  const reader = await connect(t, b!, ben)
  typer.send({ type: 'typing', conversationId: id, isTyping: true })
  const [start] = await reader.waitFor('typing')
  t.same(start, { type: 'typing', conversationId: id, userId: ann.user.id, isTyping: true })
  const began = Date.now()
  const [, stop] = await reader.waitFor('typing', () => true, 2, 3000)
  t.match(stop, { isTyping: false, userId: ann.user.id })
  t.ok(Date.now() - began >= 300, 'ended by expiry, on the typer\'s behalf')
  t.equal(typer.all('typing').length, 0, 'the typer does not get its own typing')
})

forEachDeployment(t, 'receipts: watermarks persisted, fanned out to the others', async (t, [a, b]) => {
  const ann = await user(a!)
  const ben = await user(a!)
  const id = (await ann.post('/v1/conversations', { type: 'direct', participantIds: [ben.user.id] })).body.id
  for (let i = 0; i < 3; i++) await ann.post(`/v1/conversations/${id}/messages`, { content: `m${i}` })
  const sender = await connect(t, a!, ann)
  const reader = await connect(t, b!, ben)
  for (let seq = 1; seq <= 3; seq++) reader.send({ type: 'delivered', conversationId: id, seq })
  reader.send({ type: 'read', conversationId: id, seq: 2 })
  const receipts = await sender.waitFor('receipt', (f) => f.kind === 'read')
  t.match(receipts[0], { conversationId: id, userId: ben.user.id, kind: 'read', seq: 2 })
  await sender.waitFor('receipt', (f) => f.kind === 'delivered' && f.seq === 3)
  await settle(200)
  t.ok(sender.all('receipt').length <= 3, `a burst of 4 receipts became ${sender.all('receipt').length}`)
  t.equal(reader.all('receipt').length, 0, 'not echoed to the reader')
  const parts = (await ann.get(`/v1/conversations/${id}/participants`)).body.items
  t.match(parts.find((p: { userId: string }) => p.userId === ben.user.id), { deliveredSeq: 3, readSeq: 2 })
  reader.send({ type: 'read', conversationId: id, seq: 1 })
  await reader.roundTrip()
  await settle(200)
  t.equal((await ann.get(`/v1/conversations/${id}/participants`)).body.items.find((p: { userId: string }) => p.userId === ben.user.id).readSeq, 2, 'never backwards')
})

forEachDeployment(t, 'a device that misses 30 messages gets exactly those 30, in order, on sync', async (t, [a, b]) => {
  const ann = await user(a!)
  const ben = await user(a!)
  const id = (await ann.post('/v1/conversations', { type: 'direct', participantIds: [ben.user.id] })).body.id
  await ann.post(`/v1/conversations/${id}/messages`, { content: 'before' })
  const device = await connect(t, b!, ben)
  const [seen] = await device.waitFor('new_message').catch(async () => {
    device.send({ type: 'sync', cursors: { [id]: 0 } })
    return device.waitFor('new_message')
  })
  const cursor = seen!.message.seq
  device.close()
  await device.waitClosed()
  const sender = await connect(t, a!, ann)
  for (let i = 1; i <= 30; i++) sender.send({ type: 'send_message', conversationId: id, content: `missed ${i}`, clientMessageId: `miss-${i}` })
  await sender.waitFor('message_sent', () => true, 30)

  const back = await connect(t, a!, ben)
  back.send({ type: 'sync', cursors: { [id]: cursor } })
  const [done] = await back.waitFor('sync_complete')
  t.same(done!.truncated, [])
  const replayed = back.all('new_message').map((f) => f.message.content)
  t.same(replayed, Array.from({ length: 30 }, (_, i) => `missed ${i + 1}`), 'exactly the 30, in order')
})

forEachDeployment(t, 'sync without cursors uses the delivered watermark; too many missed is truncated', async (t, [a]) => {
  const ann = await user(a!)
  const ben = await user(a!)
  const id = (await ann.post('/v1/conversations', { type: 'direct', participantIds: [ben.user.id] })).body.id
  for (let i = 1; i <= 8; i++) await ann.post(`/v1/conversations/${id}/messages`, { content: `n${i}` })
  const ws = await connect(t, a!, ben)
  ws.send({ type: 'delivered', conversationId: id, seq: 3 })
  await ws.roundTrip()
  await settle(150)
  ws.send({ type: 'sync' })
  const [done] = await ws.waitFor('sync_complete')
  t.same(done!.truncated, [id], 'more than SYNC_MAX_PER_CONVERSATION')
  t.same(ws.all('new_message').map((f) => f.message.seq), [4, 5, 6, 7])
}, { env: { SYNC_MAX_PER_CONVERSATION: '4' } })

forEachDeployment(t, 'a resend after a lost ack answers the same message_sent and creates nothing', async (t, [a, b]) => {
  const ann = await user(a!)
  const ben = await user(a!)
  const id = (await ann.post('/v1/conversations', { type: 'direct', participantIds: [ben.user.id] })).body.id
  const first = await connect(t, a!, ann)
  first.send({ type: 'send_message', conversationId: id, content: 'once', clientMessageId: 'lost-ack' })
  first.close()
  await settle(300)
  const again = await connect(t, b!, ann)
  again.send({ type: 'send_message', conversationId: id, content: 'once', clientMessageId: 'lost-ack' })
  again.send({ type: 'send_message', conversationId: id, content: 'once', clientMessageId: 'lost-ack' })
  const acks = await again.waitFor('message_sent', () => true, 2)
  t.equal(acks[0]!.messageId, acks[1]!.messageId)
  const history = (await ann.get(`/v1/conversations/${id}/messages`)).body.items
  t.equal(history.length, 1, 'one message')
  t.equal(history[0].id, acks[0]!.messageId)
})

forEachDeployment(t, 'membership changes: an added user gets events without reconnecting; a removed one stops; outsiders never do', async (t, [a, b]) => {
  const owner = await user(a!)
  const member = await user(a!)
  const newcomer = await user(a!)
  const outsider = await user(a!)
  const id = (await owner.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [member.user.id] })).body.id
  const ownerWs = await connect(t, a!, owner)
  const memberWs = await connect(t, b!, member)
  const newcomerWs = await connect(t, b!, newcomer)
  const outsiderWs = await connect(t, a!, outsider)

  await owner.post(`/v1/conversations/${id}/participants`, { userIds: [newcomer.user.id] })
  const [joined] = await newcomerWs.waitFor('conversation_updated')
  t.ok(joined!.conversation.participantIds.includes(newcomer.user.id))
  await memberWs.waitFor('conversation_updated')
  ownerWs.send({ type: 'send_message', conversationId: id, content: 'welcome', clientMessageId: 'w1' })
  await newcomerWs.waitFor('new_message', (f) => f.message.content === 'welcome')

  await owner.del(`/v1/conversations/${id}/participants/${member.user.id}`)
  const [removed] = await memberWs.waitFor('conversation_updated', (f) => !f.conversation.participantIds.includes(member.user.id))
  t.ok(removed, 'the removed user is told once')
  ownerWs.send({ type: 'send_message', conversationId: id, content: 'after removal', clientMessageId: 'w2' })
  ownerWs.send({ type: 'typing', conversationId: id, isTyping: true })
  await newcomerWs.waitFor('new_message', (f) => f.message.content === 'after removal')
  await settle(300)
  t.equal(memberWs.all('new_message', (f) => f.message.content === 'after removal').length, 0, 'the removed user gets no more messages')
  t.equal(memberWs.all('typing').length, 0)
  memberWs.send({ type: 'send_message', conversationId: id, content: 'let me in', clientMessageId: 'x1' })
  const [refused] = await memberWs.waitFor('error')
  t.match(refused, { code: 'UNAUTHORIZED', clientMessageId: 'x1' })
  t.equal(outsiderWs.frames.filter((f) => f.type !== 'pong' && f.type !== 'presence_update').length, 0, 'the outsider got nothing of the conversation')
  t.equal(outsiderWs.all('presence_update').length, 0, 'nor presence of strangers')
})
