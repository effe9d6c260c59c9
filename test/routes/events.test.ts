/**
 * Outgoing events: the admin API, signed deliveries to real HTTP receivers,
 * retries, push.requested, and the SSRF guard.
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { buildTestApp, client, forEachStore, register, type Client } from '../helper.js'
import { startReceiver } from '../receiver.js'
import { forEachDeployment } from '../realtime/nodes.js'
import { WsClient } from '../ws-client.js'
import { EVENT_TYPES, endpointUrlProblem, isPrivateAddress, retryDelay } from '../../src/domain/outgoing.js'
import { safePost } from '../../src/services/safe-post.js'

const ADMIN = 'admin-token-for-tests-0123456789abcdef'
const ENV = { ADMIN_API_TOKEN: ADMIN, EVENT_ENDPOINTS_ALLOW_PRIVATE: 'true', EVENT_RETRY_BASE_MS: '50', EVENT_RETRY_MAX_MS: '200', EVENT_POLL_INTERVAL_MS: '50', EVENT_DELIVERY_TIMEOUT_MS: '2000' }
const admin = { authorization: `Bearer ${ADMIN}` }

const adminCall = async (app: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object, headers: Record<string, string> = admin) => {
  const res = await app.inject({ method, url, headers, ...(payload !== undefined && { payload }) })
  return { status: res.statusCode, body: res.body === '' ? undefined : res.json() }
}
const addEndpoint = async (app: FastifyInstance, url: string, events?: string[]) => {
  const res = await adminCall(app, 'POST', '/v1/admin/event-endpoints', { url, ...(events !== undefined && { events }) })
  if (res.status !== 201) throw new Error(`endpoint not created: ${JSON.stringify(res.body)}`)
  return res.body as { id: string, secret: string, events: string[] }
}

forEachStore(t, 'every event type is delivered, signed so that the Standard Webhooks library verifies it', async (t, app) => {
  const receiver = await startReceiver(t)
  const endpoint = await addEndpoint(app, receiver.url)
  t.match(endpoint.secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'a whsec_ secret, shown once')
  const [ana, ben, cat] = [await register(app, 'ev'), await register(app, 'ev'), await register(app, 'ev')]
  const a = client(app, ana)
  const cid = (await a.post('/v1/conversations', { type: 'group', name: 'Events', participantIds: [ben.id] })).body.id as string
  t.equal((await a.post(`/v1/conversations/${cid}/participants`, { userIds: [cat.id] })).status, 200)
  t.equal((await a.patch(`/v1/conversations/${cid}`, { name: 'Renamed' })).status, 200)
  const sent = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'hello, integrators', clientMessageId: 'ev-1' })).body
  t.equal((await a.post(`/v1/conversations/${cid}/messages`, { content: 'hello, integrators', clientMessageId: 'ev-1' })).status, 200, 'a resend: the same message')
  t.equal((await a.patch(`/v1/conversations/${cid}/messages/${sent.id}`, { content: 'hello, edited' })).status, 200)
  t.equal((await a.del(`/v1/conversations/${cid}/messages/${sent.id}`)).status, 204)
  t.equal((await a.del(`/v1/conversations/${cid}/participants/${cat.id}`)).status, 204)
  const events = await receiver.until((es) => EVENT_TYPES.every((type) => es.some((e) => e.type === type)) && es.filter((e) => e.type === 'push.requested').length >= 2)
  const verified = receiver.verified(endpoint.secret)
  t.equal(verified.length, receiver.received.length, 'every POST verifies with the endpoint\'s secret')
  t.throws(() => receiver.verified(`whsec_${Buffer.alloc(32, 1).toString('base64')}`), 'and not with another')
  const byType = (type: string) => events.filter((e) => e.type === type)
  t.equal(byType('message.created').length, 1, 'one message.created for a message sent twice (a resend)')
  t.match(byType('message.created')[0]!.data, { id: sent.id, conversationId: cid, senderId: ana.id, content: 'hello, integrators' })
  t.match(byType('message.updated')[0]!.data, { id: sent.id, content: 'hello, edited' })
  t.match(byType('message.deleted')[0]!.data, { conversationId: cid, messageId: sent.id, deletedBy: ana.id })
  t.match(byType('conversation.created')[0]!.data, { id: cid, type: 'group', name: 'Events' })
  t.notOk('unreadCount' in byType('conversation.created')[0]!.data, 'nobody\'s unread count in it')
  t.match(byType('conversation.updated')[0]!.data, { id: cid, name: 'Renamed' })
  t.match(byType('member.added')[0]!.data, { conversationId: cid, userId: cat.id, addedBy: ana.id })
  t.match(byType('member.removed')[0]!.data, { conversationId: cid, userId: cat.id, removedBy: ana.id, left: false })
  const pushes = byType('push.requested').map((e) => e.data)
  t.same(pushes.map((p) => p.userId).sort(), [ben.id, cat.id].sort(), 'push.requested for each offline participant, none for the sender')
  // (The badge is counted when the event is dispatched: the message may be deleted by then, as it is here. The push test below checks its value.)
  t.match(pushes[0], { conversationId: cid, messageId: sent.id, senderId: ana.id, excerpt: 'hello, integrators', unreadTotal: Number })
  for (const r of receiver.received) {
    const body = JSON.parse(r.body) as { id: string }
    t.equal(r.headers['webhook-id'], body.id, 'webhook-id is the event id')
  }
  t.equal(new Set(events.map((e) => e.id)).size, events.length, 'no event twice')
}, { env: ENV })

forEachStore(t, 'a receiver that answers 500 three times, then 200, gets the event once it recovers; the log shows the attempts; a manual retry sends it again', async (t, app) => {
  const receiver = await startReceiver(t)
  receiver.answer = (_r, n, res) => { res.writeHead(n <= 3 ? 500 : 200).end() }
  const endpoint = await addEndpoint(app, receiver.url, ['message.created'])
  const [ana, ben] = [await register(app, 'evr'), await register(app, 'evr')]
  const cid = (await client(app, ana).post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id
  const sent = (await client(app, ana).post(`/v1/conversations/${cid}/messages`, { content: 'try again' })).body
  await receiver.until(() => receiver.received.length >= 4)
  const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']))
  t.equal(ids.size, 1, 'the same event each time (one webhook-id)')
  const gaps = receiver.received.slice(1).map((r, i) => r.at - receiver.received[i]!.at)
  t.ok(gaps.every((g) => g >= 30), `attempts spaced by the backoff (${gaps.join(', ')} ms)`)
  let log = (await adminCall(app, 'GET', `/v1/admin/event-endpoints/${endpoint.id}/deliveries`)).body
  for (let i = 0; i < 250 && log.items[0]?.status !== 'delivered'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    log = (await adminCall(app, 'GET', `/v1/admin/event-endpoints/${endpoint.id}/deliveries`)).body
  }
  t.match(log.items, [{ type: 'message.created', status: 'delivered', attempts: 4, lastStatusCode: 200, deliveredAt: String }], 'delivered at the fourth attempt')
  t.equal(JSON.parse(receiver.received[3]!.body).data.id, sent.id)
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, /event_deliveries_total\{outcome="retry"\} 3/, 'metrics: three attempts to retry')
  t.match(metrics, /event_deliveries_total\{outcome="delivered"\} 1/, 'and one delivered')
  t.match(metrics, /event_outbox_depth \d+/, 'the outbox depth is exposed')
  t.match(metrics, /event_outbox_oldest_age_seconds \d+/, 'and the age of its oldest')
  const retried = await adminCall(app, 'POST', `/v1/admin/event-endpoints/${endpoint.id}/deliveries/${log.items[0].id}/retry`)
  t.equal(retried.status, 202)
  t.match(retried.body, { status: 'pending' })
  await receiver.until(() => receiver.received.length >= 5)
  t.equal(receiver.received[4]!.headers['webhook-id'], receiver.received[0]!.headers['webhook-id'], 'the same event again')
  t.equal((await adminCall(app, 'POST', `/v1/admin/event-endpoints/${endpoint.id}/deliveries/${'0'.repeat(24)}/retry`)).status, 404, 'an unknown delivery: 404')
  const other = await addEndpoint(app, receiver.url, ['member.added'])
  t.equal((await adminCall(app, 'POST', `/v1/admin/event-endpoints/${other.id}/deliveries/${log.items[0].id}/retry`)).status, 404, 'another endpoint\'s delivery: 404')
}, { env: ENV })

forEachStore(t, 'a delivery that never succeeds is failed once its time is up; a deleted endpoint gets nothing more', async (t, app) => {
  const receiver = await startReceiver(t)
  receiver.answer = (_r, _n, res) => { res.writeHead(503).end() }
  const endpoint = await addEndpoint(app, receiver.url, ['message.created'])
  const [ana, ben] = [await register(app, 'evf'), await register(app, 'evf')]
  const cid = (await client(app, ana).post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id
  await client(app, ana).post(`/v1/conversations/${cid}/messages`, { content: 'never' })
  let log: { items: Array<{ status: string, attempts: number, lastStatusCode?: number, lastError?: string }> } = { items: [] }
  for (let i = 0; i < 400 && log.items[0]?.status !== 'failed'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    log = (await adminCall(app, 'GET', `/v1/admin/event-endpoints/${endpoint.id}/deliveries`)).body
  }
  t.match(log.items[0], { status: 'failed', lastStatusCode: 503, lastError: 'answered 503' })
  t.ok(log.items[0]!.attempts >= 2, `retried before it failed (${log.items[0]!.attempts} attempts)`)
  const count = receiver.received.length
  t.equal((await adminCall(app, 'DELETE', `/v1/admin/event-endpoints/${endpoint.id}`)).status, 204)
  t.equal((await adminCall(app, 'DELETE', `/v1/admin/event-endpoints/${endpoint.id}`)).status, 404, 'gone')
  await client(app, ana).post(`/v1/conversations/${cid}/messages`, { content: 'after' })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(receiver.received.length, count, 'nothing more to it')
}, { env: { ...ENV, EVENT_RETRY_FOR_MS: '1000' } })

forEachStore(t, 'the admin API: 404 without ADMIN_API_TOKEN, 401 with a wrong token, clear errors for bad bodies and ids', async (t, app) => {
  t.equal((await adminCall(app, 'GET', '/v1/admin/event-endpoints')).status, 404, 'no admin token configured: no admin API')
})

t.test('the admin API refuses what it must', async (t) => {
  const built = await buildTestApp(t, { env: { ADMIN_API_TOKEN: ADMIN } })
  if (built === undefined) return
  const { app } = built
  const user = await register(app, 'evadm')
  t.equal((await adminCall(app, 'GET', '/v1/admin/event-endpoints', undefined, {})).status, 401, 'no token')
  t.equal((await adminCall(app, 'GET', '/v1/admin/event-endpoints', undefined, user.auth)).status, 401, 'a user\'s token is not the admin token')
  t.equal((await adminCall(app, 'GET', '/v1/admin/event-endpoints', undefined, { authorization: `Bearer ${ADMIN}x` })).status, 401)
  const bad = async (payload: object, why: string, match: RegExp) => {
    const res = await adminCall(app, 'POST', '/v1/admin/event-endpoints', payload)
    t.equal(res.status, 400, why)
    t.equal(res.body.code, 'VALIDATION_ERROR')
    t.match(res.body.message, match)
  }
  await bad({ url: 'ftp://example.com/x' }, 'not http(s)', /http or https/)
  await bad({ url: 'not a url' }, 'not a URL', /not a URL/)
  await bad({ url: 'http://127.0.0.1:9/x' }, 'loopback', /private/)
  await bad({ url: 'http://localhost:9/x' }, 'localhost', /private/)
  await bad({ url: 'http://[::1]/x' }, 'IPv6 loopback', /private/)
  await bad({ url: 'http://169.254.169.254/latest/meta-data' }, 'cloud metadata', /private/)
  await bad({ url: 'http://10.1.2.3/' }, 'private', /private/)
  await bad({ url: 'https://user:pw@example.com/' }, 'credentials', /credentials/)
  await bad({ url: 'https://example.com/', events: ['message.exploded'] }, 'unknown type', /unknown event type/)
  await bad({ url: 'https://example.com/', extra: 1 }, 'unknown field', /not an allowed property/)
  await bad({ url: 'x'.repeat(3000) }, 'oversized', /2048/)
  const created = await adminCall(app, 'POST', '/v1/admin/event-endpoints', { url: 'https://example.com/hook', events: ['message.created', 'message.created'], description: 'ours' })
  t.equal(created.status, 201)
  t.same(created.body.events, ['message.created'], 'types once each')
  const list = (await adminCall(app, 'GET', '/v1/admin/event-endpoints')).body
  t.equal(list.items.length, 1)
  t.notOk('secret' in list.items[0], 'the secret is never shown again')
  t.equal((await adminCall(app, 'GET', '/v1/admin/event-endpoints/nope/deliveries')).status, 400, 'a malformed id')
  t.equal((await adminCall(app, 'GET', `/v1/admin/event-endpoints/${'0'.repeat(24)}/deliveries`)).status, 404, 'an unknown endpoint')
  t.equal((await adminCall(app, 'GET', `/v1/admin/event-endpoints/${created.body.id}/deliveries?limit=1000`)).status, 400, 'a limit over 100')
})

t.test('the SSRF guard', async (t) => {
  for (const a of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '64:ff9b::10.0.0.1', '224.0.0.1']) t.ok(isPrivateAddress(a), `${a} refused`)
  for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '172.32.0.1']) t.notOk(isPrivateAddress(a), `${a} allowed`)
  t.equal(endpointUrlProblem('http://127.0.0.1/', true), undefined, 'allowed with the flag')
  const receiver = await startReceiver(t)
  const port = new URL(receiver.url).port
  t.match(await safePost(`http://localhost:${port}/hook`, '{}', {}, { timeoutMs: 1000, allowPrivate: false }), { error: /private address/ }, 'a name that resolves to loopback is refused when it connects')
  t.match(await safePost(`http://127.0.0.1:${port}/hook`, '{}', {}, { timeoutMs: 1000, allowPrivate: false }), { error: /private/ }, 'and an address')
  t.equal(receiver.received.length, 0, 'nothing reached the receiver')
  t.match(await safePost(`http://localhost:${port}/hook`, '{}', {}, { timeoutMs: 1000, allowPrivate: true }), { statusCode: 200 }, 'with the flag it goes')
  receiver.answer = (_r, _n, res) => { res.writeHead(302, { location: 'http://169.254.169.254/' }).end() }
  t.match(await safePost(receiver.url, '{}', {}, { timeoutMs: 1000, allowPrivate: true }), { statusCode: 302 }, 'a redirect is not followed: it is an answer that is not 2xx')
  t.ok(retryDelay(1, 5000, 3600_000, () => 0.5) === 5000 && retryDelay(5, 5000, 3600_000, () => 0.5) === 80_000 && retryDelay(20, 5000, 3600_000, () => 1) === 4320_000, 'backoff doubles to its cap, jittered')
})

forEachStore(t, 'a receiver that never answers slows neither sends nor the other endpoints', async (t, app) => {
  const healthy = await startReceiver(t)
  const dead = await startReceiver(t)
  dead.answer = () => {} // holds every request open
  const [ana, ben] = [await register(app, 'evs'), await register(app, 'evs')]
  const a = client(app, ana)
  const cid = (await a.post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id
  const p99 = async (label: string) => {
    const times: number[] = []
    for (let i = 0; i < 150; i++) {
      const start = process.hrtime.bigint()
      const res = await a.post(`/v1/conversations/${cid}/messages`, { content: `${label} ${i}` })
      times.push(Number(process.hrtime.bigint() - start) / 1e6)
      if (res.status !== 201) throw new Error(`send failed: ${res.status}`)
    }
    times.sort((x, y) => x - y)
    return times[Math.floor(times.length * 0.99)]!
  }
  const first = await addEndpoint(app, healthy.url, ['message.created'])
  const base = await p99('healthy')
  await healthy.until((es) => es.length >= 150, 60_000)
  await adminCall(app, 'DELETE', `/v1/admin/event-endpoints/${first.id}`)
  await addEndpoint(app, dead.url, ['message.created'])
  const alongside = await startReceiver(t)
  const beside = await addEndpoint(app, alongside.url, ['message.created'])
  await new Promise((resolve) => setTimeout(resolve, 1100)) // every node's endpoint list is read again
  const stalled = await p99('stalled')
  await alongside.until((es) => es.length >= 150, 60_000).catch(async (err: Error) => {
    const log = (await adminCall(app, 'GET', `/v1/admin/event-endpoints/${beside.id}/deliveries?limit=100`)).body
    throw new Error(`${err.message.slice(0, 40)}; its log: ${JSON.stringify(log.items.filter((d: { status: string }) => d.status !== 'delivered'))}`)
  })
  t.pass('another endpoint gets every event meanwhile')
  t.equal(dead.received.length, 4, 'the dead receiver holds as many deliveries open as one endpoint may have (EVENT_MAX_IN_FLIGHT_PER_ENDPOINT)')
  t.ok(stalled < base * 3 + 15, `send p99 ${stalled.toFixed(1)} ms with a receiver that never answers, ${base.toFixed(1)} ms with a healthy one`)
}, { env: { ...ENV, RATE_LIMITS: 'off', EVENT_MAX_IN_FLIGHT: '8', EVENT_MAX_IN_FLIGHT_PER_ENDPOINT: '4', EVENT_DELIVERY_TIMEOUT_MS: '60000' } })

forEachDeployment(t, 'push.requested only for participants with no device connected on any node; none for the sender or a bot', async (t, nodes) => {
  const [na, nb] = [nodes[0]!, nodes[1]!]
  const receiver = await startReceiver(t)
  const endpoint = await addEndpoint(na.app, receiver.url, ['push.requested'])
  const [ana, ben, cat, dan] = [await register(na.app, 'evp'), await register(na.app, 'evp'), await register(na.app, 'evp'), await register(na.app, 'evp')]
  const a: Client = client(na.app, ana)
  const bot = (await a.post('/v1/bots', { username: `pushbot${Date.now() % 100000}` })).body
  const group = await a.post('/v1/conversations', { type: 'group', name: 'Push', participantIds: [ben.id, cat.id, dan.id, bot.bot.id] })
  t.equal(group.status, 201, JSON.stringify(group.body))
  const cid = group.body.id
  // Ben is connected on node B, Ana (the sender) on node A; Cat and Dan on no node.
  const bens = await WsClient.connect(nb.base, ben.accessToken)
  const anas = await WsClient.connect(na.base, ana.accessToken)
  t.teardown(() => { bens.socket.close(); anas.socket.close() })
  await bens.roundTrip()
  await client(na.app, cat).post(`/v1/conversations/${cid}/messages`, { content: 'an earlier one' })
  const sent = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'wake up' })).body
  const events = await receiver.until((es) => es.filter((e) => e.data.messageId === sent.id).length >= 2)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const forIt = receiver.verified(endpoint.secret).filter((e) => e.data.messageId === sent.id)
  t.same(forIt.map((e) => e.data.userId).sort(), [cat.id, dan.id].sort(), 'Cat and Dan (offline), not Ben (online on the other node), not Ana (the sender), not the bot')
  t.equal(forIt.find((e) => e.data.userId === dan.id)!.data.unreadTotal, 2, 'Dan\'s badge: both messages unread')
  t.equal(forIt.find((e) => e.data.userId === cat.id)!.data.unreadTotal, 1, 'Cat\'s: only Ana\'s (her own does not count)')
  t.ok(events.every((e) => e.type === 'push.requested'), 'only the type the endpoint asked for')
}, { env: ENV })
