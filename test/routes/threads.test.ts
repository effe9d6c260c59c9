/** Threads: replies are messages of the conversation; the root sums them up and moves with each; one thread pages by itself; bad roots refused. */
import t from 'tap'
import { client, forEachStore, register, users } from '../helper.js'
import { forEachDeployment } from '../realtime/nodes.js'
import { WsClient } from '../ws-client.js'

forEachStore(t, 'replies in a thread: in history, the root\'s summary, one thread paged by itself, a deleted reply no longer counted', async (t, app) => {
  const [a, b] = await users(app, 2, 'thr')
  const cid = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const root = (await a!.post(`/v1/conversations/${cid}/messages`, { content: 'root' })).body
  const r1 = (await b!.post(`/v1/conversations/${cid}/messages`, { content: 'r1', threadId: root.id })).body
  await a!.post(`/v1/conversations/${cid}/messages`, { content: 'outside' })
  const r2 = (await a!.post(`/v1/conversations/${cid}/messages`, { content: 'r2', threadId: root.id })).body
  const r3 = (await b!.post(`/v1/conversations/${cid}/messages`, { content: 'r3', threadId: root.id })).body
  t.equal(r1.threadId, root.id)
  const history = (await a!.get(`/v1/conversations/${cid}/messages`)).body.items
  t.same(history.map((m: { content: string }) => m.content), ['root', 'r1', 'outside', 'r2', 'r3'], 'replies are messages of the conversation')
  const rootNow = history[0]
  t.same(rootNow.thread, { replyCount: 3, lastReplyAt: r3.sentAt, lastReplySeq: r3.seq, participantIds: [a!.user.id, b!.user.id].sort() })
  t.ok(rootNow.version > r3.seq, 'the root moved to a version after the last reply')
  const thread = (await b!.get(`/v1/conversations/${cid}/messages?threadId=${root.id}`)).body
  t.same(thread.items.map((m: { content: string }) => m.content), ['root', 'r1', 'r2', 'r3'], 'the thread: its root and replies')
  const page = (await b!.get(`/v1/conversations/${cid}/messages?threadId=${root.id}&limit=2`)).body
  t.same([page.items.map((m: { content: string }) => m.content), page.hasMore], [['r2', 'r3'], true], 'the newest page of it')
  const older = (await b!.get(`/v1/conversations/${cid}/messages?threadId=${root.id}&limit=2&beforeSeq=${r2.seq}`)).body
  t.same(older.items.map((m: { content: string }) => m.content), ['root', 'r1'])
  t.equal((await b!.del(`/v1/conversations/${cid}/messages/${r3.id}`)).status, 204)
  const after = (await a!.get(`/v1/conversations/${cid}/messages?threadId=${root.id}`)).body.items[0]
  t.same(after.thread, { replyCount: 2, lastReplyAt: r2.sentAt, lastReplySeq: r2.seq, participantIds: [a!.user.id, b!.user.id].sort() }, 'a deleted reply no longer counts')
})

forEachStore(t, 'a reply to a reply, a root of another conversation, unknown or deleted: VALIDATION_ERROR, nothing stored', async (t, app) => {
  const [a, b, c] = await users(app, 3, 'thrbad')
  const cid = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const other = (await c!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const root = (await a!.post(`/v1/conversations/${cid}/messages`, { content: 'root' })).body.id
  const reply = (await a!.post(`/v1/conversations/${cid}/messages`, { content: 'reply', threadId: root })).body.id
  const foreign = (await c!.post(`/v1/conversations/${other}/messages`, { content: 'theirs' })).body.id
  const gone = (await a!.post(`/v1/conversations/${cid}/messages`, { content: 'gone' })).body.id
  await a!.del(`/v1/conversations/${cid}/messages/${gone}`)
  const before = (await a!.get(`/v1/conversations/${cid}/messages`)).body.items.length
  for (const [why, threadId] of [['a reply to a reply', reply], ['another conversation', foreign], ['unknown', '665f1c2ab4d5e6f7a8b9c0d1'], ['deleted', gone], ['malformed', 'x']]) {
    const res = await a!.post(`/v1/conversations/${cid}/messages`, { content: 'no', threadId })
    t.equal(res.status, 400, why)
    t.match(res.body, { code: 'VALIDATION_ERROR' }, why)
  }
  t.equal((await a!.get(`/v1/conversations/${cid}/messages`)).body.items.length, before, 'nothing stored')
  t.equal((await c!.get(`/v1/conversations/${cid}/messages?threadId=${root}`)).status, 403, 'a stranger reads no thread')
})

forEachDeployment(t, 'live: the reply as new_message, then the root as message_updated, on every node; a device away gets both by sync', async (t, nodes) => {
  const [na, nb] = [nodes[0]!, nodes[1]!]
  const a = client(na.app, await register(na.app, 'thrlive'))
  const b = client(na.app, await register(na.app, 'thrlive'))
  const cid = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const root = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'root' })).body
  const live = await WsClient.connect(nb.base, a.user.accessToken)
  const bob = await WsClient.connect(na.base, b.user.accessToken)
  t.teardown(() => { live.close(); bob.close() })
  await live.roundTrip()
  await bob.roundTrip()
  bob.send({ type: 'send_message', conversationId: cid, content: 'over ws', clientMessageId: 't1', threadId: root.id })
  const [ack] = await bob.waitFor('message_sent')
  const [reply] = await live.waitFor('new_message')
  t.equal(reply!.message.threadId, root.id)
  const [updated] = await live.waitFor('message_updated')
  t.match(updated!.message, { id: root.id, thread: { replyCount: 1, lastReplySeq: ack!.seq } })
  // Away since the root: one sync brings the reply and the root in its state now.
  await b.post(`/v1/conversations/${cid}/messages`, { content: 'while away', threadId: root.id })
  const away = await WsClient.connect(nb.base, b.user.accessToken)
  t.teardown(() => away.close())
  away.send({ type: 'sync', cursors: { [cid]: root.version } })
  await away.waitFor('sync_complete')
  t.same(away.all('new_message').map((f) => f.message.content), ['over ws', 'while away'])
  const synced = away.all('message_updated').find((f) => f.message.id === root.id)
  t.same(synced?.message.thread, (await a.get(`/v1/conversations/${cid}/messages?threadId=${root.id}`)).body.items[0].thread, 'the REST state after one sync')
  t.equal(synced?.message.thread.replyCount, 2)
})
