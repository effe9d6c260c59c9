import t from 'tap'
import { forEachStore, users } from '../helper.js'

forEachStore(t, 'webhooks end to end: create (token once), post as the bot, list without tokens, delete', async (t, app) => {
  const [a, b] = await users(app, 2, 'wh')
  const id = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const created = await a!.post(`/v1/conversations/${id}/webhooks`, { name: 'CI bot' })
  t.equal(created.status, 201)
  const hook = created.body
  t.match(hook, { name: 'CI bot', conversationId: id, token: /^[A-Za-z0-9_-]{43}$/ })
  t.equal(hook.url, `http://localhost:80/v1/webhooks/${hook.id}/${hook.token}`)

  const path = `/v1/webhooks/${hook.id}/${hook.token}`
  const sent = await app.inject({ method: 'POST', url: path, payload: { content: 'build passed', clientMessageId: 'run-1' } })
  t.equal(sent.statusCode, 201)
  t.match(sent.json(), { senderId: hook.botUserId, content: 'build passed', conversationId: id, seq: 1 })
  const retry = await app.inject({ method: 'POST', url: path, payload: { content: 'build passed', clientMessageId: 'run-1' } })
  t.equal(retry.statusCode, 200)
  t.equal(retry.json().id, sent.json().id)

  const bot = await b!.get(`/v1/users/${hook.botUserId}`)
  t.match(bot.body, { displayName: 'CI bot', bot: true })
  t.equal((await b!.get(`/v1/conversations/${id}`)).body.unreadCount, 1, 'a bot message is unread for both')
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { login: bot.body.username, password: '!' } })).statusCode, 401, 'the bot cannot log in')

  const listed = await b!.get(`/v1/conversations/${id}/webhooks`)
  t.equal(listed.body.items.length, 1)
  t.notOk(JSON.stringify(listed.body).includes(hook.token), 'no token in the list')
  t.notOk('token' in listed.body.items[0])

  const wrong = await app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/${'A'.repeat(43)}`, payload: { content: 'x' } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'UNAUTHORIZED')
  t.equal((await app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/bad*token`, payload: { content: 'x' } })).statusCode, 400)
  t.equal((await app.inject({ method: 'POST', url: path, payload: { content: 'x', senderId: a!.user.id } })).statusCode, 400, 'no spoofing the sender')
  t.equal((await app.inject({ method: 'POST', url: path, payload: { content: '' } })).statusCode, 400)

  t.equal((await b!.del(`/v1/conversations/${id}/webhooks/${hook.id}`)).status, 403, 'only its creator in a direct conversation')
  t.equal((await a!.del(`/v1/conversations/${id}/webhooks/${hook.id}`)).status, 204)
  const dead = await app.inject({ method: 'POST', url: path, payload: { content: 'after delete' } })
  t.equal(dead.statusCode, 404, 'a deleted webhook\'s token fails')
  t.equal((await a!.get(`/v1/conversations/${id}/messages`)).body.items.length, 1, 'nothing was posted after the delete')
  t.equal((await a!.del(`/v1/conversations/${id}/webhooks/${hook.id}`)).status, 404)
})

forEachStore(t, 'a webhook stops the moment its creator leaves or is removed, and is listed as inactive', async (t, app) => {
  const [owner, member] = await users(app, 2, 'wh4')
  const id = (await owner!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [member!.user.id] })).body.id
  const hook = (await member!.post(`/v1/conversations/${id}/webhooks`, { name: 'mine' })).body
  const post = (content: string) => app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/${hook.token}`, payload: { content } })
  t.equal((await post('while a member')).statusCode, 201)
  t.equal((await owner!.get(`/v1/conversations/${id}/webhooks`)).body.items[0].active, true)
  t.equal((await owner!.del(`/v1/conversations/${id}/participants/${member!.user.id}`)).status, 204)
  const refused = await post('after removal')
  t.equal(refused.statusCode, 403)
  t.match(refused.json(), { code: 'FORBIDDEN', message: /no longer a participant/ })
  t.equal((await owner!.get(`/v1/conversations/${id}/webhooks`)).body.items[0].active, false, 'listed as inactive')
  t.same((await owner!.get(`/v1/conversations/${id}/messages`)).body.items.map((m: { content: string }) => m.content), ['while a member'], 'nothing posted after the removal')
  t.equal((await owner!.post(`/v1/conversations/${id}/participants`, { userIds: [member!.user.id] })).status, 200)
  t.equal((await post('back again')).statusCode, 201, 'and works again once its creator is back')
})

forEachStore(t, 'a webhook of one conversation cannot be reached through another', async (t, app) => {
  const [a, b, c] = await users(app, 3, 'wh2')
  const mine = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const theirs = (await c!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const hook = (await c!.post(`/v1/conversations/${theirs}/webhooks`, { name: 'theirs' })).body
  t.equal((await a!.del(`/v1/conversations/${mine}/webhooks/${hook.id}`)).status, 404)
  t.equal((await a!.del(`/v1/conversations/${theirs}/webhooks/${hook.id}`)).status, 403)
  t.equal((await c!.get(`/v1/conversations/${theirs}/webhooks`)).body.items.length, 1)
})

forEachStore(t, 'webhooks have their own rate limit', async (t, app) => {
  const [a, b] = await users(app, 2, 'wh3')
  const id = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const hook = (await a!.post(`/v1/conversations/${id}/webhooks`, { name: 'noisy' })).body
  const post = () => app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/${hook.token}`, payload: { content: 'x' } })
  t.equal((await post()).statusCode, 201)
  t.equal((await post()).statusCode, 201)
  const limited = await post()
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) >= 1)
}, { env: { RATE_LIMITS: 'on', RATE_LIMIT_WEBHOOK: '2/60000' } })
