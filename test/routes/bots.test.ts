/** Bots: created by a user, added to a group, sending by REST and websocket with their API key, revoked at once. */
import t from 'tap'
import { client, register, uniqueAddress, uniqueName } from '../helper.js'
import { forEachDeployment } from '../realtime/nodes.js'
import { WsClient } from '../ws-client.js'

forEachDeployment(t, 'a bot is created, added to a group, sends by REST and websocket with its API key; revoked, its key is refused at once on every node', async (t, nodes) => {
  const [na, nb] = [nodes[0]!, nodes[1]!]
  const [ana, ben] = [await register(na.app, 'bot'), await register(na.app, 'bot')]
  const a = client(na.app, ana)
  const username = uniqueName('helper')
  const created = await a.post('/v1/bots', { username, name: 'Helper' })
  t.equal(created.status, 201)
  t.match(created.body, { bot: { username, displayName: 'Helper', bot: true }, ownerId: ana.id, revoked: false, apiKey: /^cbk_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/ })
  const { bot, apiKey } = created.body as { bot: { id: string }, apiKey: string }
  const key = { authorization: `Bearer ${apiKey}` }
  t.match((await a.get('/v1/bots')).body.items, [{ bot: { id: bot.id }, revoked: false }], 'listed for its owner, without its key')
  t.notOk('apiKey' in (await a.get('/v1/bots')).body.items[0])
  t.equal((await a.get(`/v1/users/${bot.id}`)).body.bot, true, 'shown as a bot in user views')

  const cid = (await a.post('/v1/conversations', { type: 'group', name: 'With a bot', participantIds: [ben.id, bot.id] })).body.id
  const me = await na.app.inject({ method: 'GET', url: '/v1/users/me', headers: key })
  t.equal(me.json().id, bot.id, 'its key authenticates REST')
  const byRest = await nb.app.inject({ method: 'POST', url: `/v1/conversations/${cid}/messages`, headers: key, payload: { content: 'beep (REST)' } })
  t.equal(byRest.statusCode, 201, 'it sends by REST, on either node')
  t.equal(byRest.json().senderId, bot.id)

  const bens = await WsClient.connect(na.base, ben.accessToken)
  const bots = await WsClient.connect(nb.base, apiKey, { header: true })
  t.teardown(() => { bens.socket.close(); bots.socket.close() })
  await bens.roundTrip()
  await bots.roundTrip()
  bots.send({ type: 'send_message', conversationId: cid, content: 'boop (websocket)', clientMessageId: 'bot-1' })
  const [ack] = await bots.waitFor('message_sent')
  t.ok(ack!.messageId, 'and over the websocket (its key in the Authorization header)')
  await bens.waitFor('new_message', (f) => f.message.content === 'boop (websocket)')
  const byQuery = await WsClient.connect(na.base, apiKey)
  await byQuery.roundTrip()
  t.pass('or in ?token=')

  // Others may not revoke it; its owner does, and everything stops at once.
  t.equal((await client(na.app, ben).del(`/v1/bots/${bot.id}`)).status, 403, 'only its owner revokes it')
  t.equal((await a.del(`/v1/bots/${bot.id}`)).status, 204)
  const refused = await nb.app.inject({ method: 'POST', url: `/v1/conversations/${cid}/messages`, headers: key, payload: { content: 'still here?' } })
  t.equal(refused.statusCode, 401, 'its key is refused at once, on the other node too')
  t.match(refused.json(), { code: 'UNAUTHORIZED', message: /revoked/ })
  t.match(await bots.waitClosed(), { code: 4401 }, 'its socket is closed (the session ended)')
  t.match(await byQuery.waitClosed(), { code: 4401 }, 'on every node')
  const again = await WsClient.connect(na.base, apiKey).catch((err: { statusCode?: number }) => err)
  t.equal((again as { statusCode?: number }).statusCode, 401, 'and a new one refused')
  t.equal((await a.del(`/v1/bots/${bot.id}`)).status, 404, 'revoked already')
  t.match((await a.get('/v1/bots')).body.items, [{ revoked: true }])
  const history = (await a.get(`/v1/conversations/${cid}/messages`)).body.items as Array<{ senderId: string }>
  t.equal(history.filter((m) => m.senderId === bot.id).length, 2, 'its messages stay, with their sender')
})

forEachDeployment(t, 'bots: bad input gets the contract\'s errors', async (t, nodes) => {
  const { app } = nodes[0]!
  const ana = await register(app, 'botbad')
  const a = client(app, ana)
  const username = uniqueName('dup')
  t.equal((await a.post('/v1/bots', { username })).status, 201)
  t.match(await a.post('/v1/bots', { username: username.toUpperCase() }), { status: 409, body: { code: 'CONFLICT', field: 'username' } }, 'a username taken (by a bot or a person)')
  t.match(await a.post('/v1/bots', { username: ana.username }), { status: 409 })
  t.match(await a.post('/v1/bots', { username: 'no spaces allowed' }), { status: 400, body: { code: 'VALIDATION_ERROR' } })
  t.match(await a.post('/v1/bots', { username: 'wh.fake' }), { status: 400, body: { code: 'VALIDATION_ERROR', field: 'username' } }, 'the webhooks\' prefix')
  t.match(await a.post('/v1/bots', {}), { status: 400 }, 'no username')
  t.match(await a.post('/v1/bots', { username: uniqueName('x'), admin: true }), { status: 400 }, 'an unknown field')
  t.match(await a.post('/v1/bots', { username: uniqueName('x'), name: 'x'.repeat(65) }), { status: 400 }, 'a name too long')
  t.match(await a.del('/v1/bots/nope'), { status: 400 }, 'a malformed id')
  t.match(await a.del(`/v1/bots/${'0'.repeat(24)}`), { status: 404 }, 'an unknown bot')
  t.match(await a.del(`/v1/bots/${ana.id}`), { status: 404 }, 'a person is not a bot')
  const created = (await a.post('/v1/bots', { username: uniqueName('b') })).body as { bot: { id: string }, apiKey: string }
  const asBot = { authorization: `Bearer ${created.apiKey}` }
  const byBot = await app.inject({ method: 'POST', url: '/v1/bots', headers: asBot, payload: { username: uniqueName('c') } })
  t.equal(byBot.statusCode, 403, 'a bot does not make bots')
  for (const wrong of [`${created.apiKey.slice(0, -1)}A`, `cbk_${'0'.repeat(24)}_${created.apiKey.slice(-43)}`, 'cbk_short', `cbk_${created.bot.id}_`]) {
    const res = await app.inject({ method: 'GET', url: '/v1/users/me', headers: { authorization: `Bearer ${wrong}` } })
    t.equal(res.statusCode, 401, `a wrong key is refused (${wrong.slice(0, 12)}…)`)
  }
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: uniqueAddress(), payload: { login: username, password: '!' } })
  t.equal(login.statusCode, 401, 'a bot cannot log in with a password')
})

forEachDeployment(t, 'rate limits apply to a bot as to a user', async (t, nodes) => {
  const { app } = nodes[0]!
  const [ana, ben] = [await register(app, 'botrl'), await register(app, 'botrl')]
  const a = client(app, ana)
  const { bot, apiKey } = (await a.post('/v1/bots', { username: uniqueName('rl') })).body as { bot: { id: string }, apiKey: string }
  const cid = (await a.post('/v1/conversations', { type: 'group', name: 'Limits', participantIds: [ben.id, bot.id] })).body.id
  const statuses: number[] = []
  for (let i = 0; i < 8; i++) {
    statuses.push((await app.inject({ method: 'POST', url: `/v1/conversations/${cid}/messages`, headers: { authorization: `Bearer ${apiKey}` }, payload: { content: `spam ${i}` } })).statusCode)
  }
  t.same(statuses, [201, 201, 201, 201, 201, 429, 429, 429], 'the group send limit (5 here) holds for the bot')
}, { env: { RATE_LIMIT_SEND_GROUP: '5/60000' } })
