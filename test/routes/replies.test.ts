/** Replies that quote: over REST, the websocket and webhooks; the quote follows the original's edits and deletion; bad references refused. */
import t from 'tap'
import { buildTestApp, client, forEachStore, register, users } from '../helper.js'
import { WsClient } from '../ws-client.js'

forEachStore(t, 'a reply carries the quote of its original, kept in step with its edits and its deletion', async (t, app) => {
  const [a, b] = await users(app, 2, 'reply')
  const cid = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const long = 'x'.repeat(150) + '💬'.repeat(100)
  const original = (await a!.post(`/v1/conversations/${cid}/messages`, { content: long })).body
  const reply = await b!.post(`/v1/conversations/${cid}/messages`, { content: 'answer', replyTo: original.id })
  t.equal(reply.status, 201)
  t.same(reply.body.replyTo, { id: original.id, seq: original.seq, senderId: a!.user.id, content: 'x'.repeat(150) + '💬'.repeat(50) }, 'the first 200 characters, no emoji cut')
  const quoteOf = async () => (await a!.get(`/v1/conversations/${cid}/messages`)).body.items.find((m: { id: string }) => m.id === reply.body.id).replyTo
  t.equal((await a!.patch(`/v1/conversations/${cid}/messages/${original.id}`, { content: 'edited' })).status, 200)
  t.equal((await quoteOf()).content, 'edited', 'an edit: the new text')
  t.equal((await a!.del(`/v1/conversations/${cid}/messages/${original.id}`)).status, 204)
  t.equal((await quoteOf()).content, '', 'a deletion: emptied')
  const toDeleted = await b!.post(`/v1/conversations/${cid}/messages`, { content: 'late', replyTo: original.id })
  t.equal(toDeleted.status, 400)
  t.match(toDeleted.body, { code: 'VALIDATION_ERROR', field: 'replyTo' })
})

forEachStore(t, 'replyTo of another conversation, unknown or malformed: VALIDATION_ERROR, and nothing stored', async (t, app) => {
  const [a, b, c] = await users(app, 3, 'replybad')
  const mine = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const theirs = (await c!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const foreign = (await c!.post(`/v1/conversations/${theirs}/messages`, { content: 'secret' })).body.id
  for (const [why, replyTo, status] of [['another conversation', foreign, 400], ['unknown', '665f1c2ab4d5e6f7a8b9c0d1', 400], ['malformed', 'nope', 400], ['a number', 5, 400]] as const) {
    const res = await a!.post(`/v1/conversations/${mine}/messages`, { content: 'x', replyTo })
    t.equal(res.status, status, why)
    t.equal(res.body.code, 'VALIDATION_ERROR', why)
    t.notMatch(JSON.stringify(res.body), /secret/, 'nothing of the foreign message shows')
  }
  t.same((await a!.get(`/v1/conversations/${mine}/messages`)).body.items, [], 'nothing stored')
})

t.test('over the websocket and through a webhook; live readers get the quote', async (t) => {
  const built = await buildTestApp(t)
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const a = client(app, await register(app, 'replyws'))
  const b = client(app, await register(app, 'replyws'))
  const cid = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const original = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'question?' })).body
  const bob = await WsClient.connect(base, b.user.accessToken)
  const ada = await WsClient.connect(base, a.user.accessToken)
  t.teardown(() => { bob.close(); ada.close() })
  await bob.roundTrip()
  await ada.roundTrip()
  bob.send({ type: 'send_message', conversationId: cid, content: 'over ws', clientMessageId: 'r1', replyTo: original.id })
  await bob.waitFor('message_sent')
  const [live] = await ada.waitFor('new_message')
  t.same(live!.message.replyTo, { id: original.id, seq: original.seq, senderId: a.user.id, content: 'question?' })
  bob.send({ type: 'send_message', conversationId: cid, content: 'bad', clientMessageId: 'r2', replyTo: '665f1c2ab4d5e6f7a8b9c0d1' })
  const [refused] = await bob.waitFor('error', (f) => f.clientMessageId === 'r2')
  t.equal(refused!.code, 'VALIDATION_ERROR')
  const hook = (await a.post(`/v1/conversations/${cid}/webhooks`, { name: 'ci' })).body
  const posted = await app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/${hook.token}`, payload: { content: 'from ci', replyTo: original.id } })
  t.equal(posted.statusCode, 201)
  t.equal(posted.json().replyTo.id, original.id)
})
