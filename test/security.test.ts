/** Regression tests of what an attacker tried (issue: security hardening), one per finding fixed. */
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { addressKey } from '../src/domain/addresses.js'
import { channels } from '../src/domain/channels.js'
import { createMemoryStore } from '../src/store/memory/index.js'
import { buildTestApp, forEachStore, register, TEST_JWT_SECRET, uniqueAddress, uniqueName, users, type Client } from './helper.js'
import { makeJwt } from './jwt.js'
import { WsClient } from './ws-client.js'
import { startNodes, type Node } from './realtime/nodes.js'

t.test('a client-chosen X-Request-Id is kept only when it is a short plain token', async (t) => {
  const built = await buildTestApp(t)
  if (built === undefined) return
  const { app } = built
  const echoed = async (id: string) => (await app.inject({ url: '/health/live', headers: { 'x-request-id': id } })).headers['x-request-id']
  t.equal(await echoed('trace-42.a:b'), 'trace-42.a:b')
  for (const bad of ['x'.repeat(65), 'a b', 'evil\u001b[31m', '<script>', '"quoted"']) t.match(await echoed(bad), /^[0-9a-f-]{36}$/, `${JSON.stringify(bad).slice(0, 20)} is replaced`)
})

forEachStore(t, 'webhooks\' bot names and addresses are reserved at register', async (t, app) => {
  const register = (username: string, email: string) => app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: uniqueAddress(), payload: { username, email, password: 'correct horse battery' } })
  const asBot = await register(`wh.${uniqueName('x')}`, `${uniqueName('x')}@example.com`)
  t.equal(asBot.statusCode, 400)
  t.match(asBot.json(), { code: 'VALIDATION_ERROR', field: 'username' })
  const botMail = await register(uniqueName('y'), `${uniqueName('y')}@WEBHOOKS.invalid`)
  t.equal(botMail.statusCode, 400)
  t.match(botMail.json(), { code: 'VALIDATION_ERROR', field: 'email' })
})

t.test('token answers are never cached; no answer is sniffed', async (t) => {
  const built = await buildTestApp(t)
  if (built === undefined) return
  const res = await built.app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: uniqueAddress(), payload: { username: uniqueName('c'), email: `${uniqueName('c')}@example.com`, password: 'correct horse battery' } })
  t.equal(res.statusCode, 201)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal((await built.app.inject('/v1/nowhere')).headers['x-content-type-options'], 'nosniff', 'errors too')
})

t.test('security headers: API answers may load nothing and are never framed; the pages carry their own policies', async (t) => {
  const built = await buildTestApp(t)
  if (built === undefined) return
  const api = (await built.app.inject('/health/live')).headers
  t.equal(api['content-security-policy'], "default-src 'none';frame-ancestors 'none';base-uri 'none'")
  t.equal(api['x-frame-options'], 'SAMEORIGIN')
  t.equal(api['referrer-policy'], 'no-referrer')
  t.match(api['strict-transport-security'], /max-age=\d+/)
  t.equal(api['x-content-type-options'], 'nosniff')
  const docs = await built.app.inject('/docs')
  t.equal(docs.statusCode, 200)
  t.match(docs.headers['content-security-policy'], /script-src 'self'/, 'the docs UI may run its own scripts')
  t.notMatch(docs.headers['content-security-policy'], /upgrade-insecure-requests/, 'and is usable over plain HTTP')
  const demo = await built.app.inject('/')
  if (demo.statusCode === 200) t.match(demo.headers['content-security-policy'], /connect-src 'self' ws: wss:/, 'the demo talks to this origin')
})

t.test('readiness names the dependency that is down, never the driver\'s error text', async (t) => {
  const built = await buildTestApp(t, { env: { MONGODB_URL: 'mongodb://127.0.0.1:9/nothing-here', MONGODB_TIMEOUT_MS: '300', DEPENDENCY_TIMEOUT_MS: '2000' } })
  if (built === undefined) return
  const res = await built.app.inject('/health/ready')
  t.equal(res.statusCode, 503)
  const { checks } = res.json() as { checks: { store: { status: string, error: string } } }
  t.equal(checks.store.status, 'down')
  t.match(checks.store.error, /^(unreachable|no answer within \d+ ms)$/)
  // Port 9 as a host would carry it (`host:9`), not a JSON number such as "latencyMs":90.
  t.notMatch(res.body, /127\.0\.0\.1|ECONNREFUSED|Server selection|(?<!"):9(?!\d)/, 'no host, port or driver message')
})

t.test('the metrics token is compared as a whole', async (t) => {
  const built = await buildTestApp(t, { env: { METRICS_TOKEN: 'metrics-token-0123456789' } })
  if (built === undefined) return
  const scrape = (authorization: string) => built.app.inject({ url: '/metrics', headers: { authorization } })
  t.equal((await scrape('Bearer metrics-token-0123456789')).statusCode, 200)
  for (const wrong of ['Bearer metrics-token-012345678', 'Bearer metrics-token-01234567890', 'metrics-token-0123456789', '']) t.equal((await scrape(wrong)).statusCode, 401, JSON.stringify(wrong))
})

forEachStore(t, 'presence is answered only for users who share a conversation with me', async (t, app) => {
  const [me, friend, stranger] = await users(app, 3, 'pres')
  await me!.post('/v1/conversations', { type: 'direct', participantIds: [friend!.user.id] })
  const res = await me!.get(`/v1/presence?userIds=${[me!.user.id, friend!.user.id, stranger!.user.id].join(',')}`)
  t.equal(res.status, 200)
  t.same(res.body.items.map((p: { userId: string }) => p.userId).sort(), [me!.user.id, friend!.user.id].sort(), 'the stranger is left out')
  t.same((await stranger!.get(`/v1/presence?userIds=${me!.user.id}`)).body.items, [], 'and cannot see me')
})

t.test('behind one proxy (TRUST_PROXY=1) a client-chosen X-Forwarded-For does not change the address the limits see', async (t) => {
  const built = await buildTestApp(t, { env: { TRUST_PROXY: '1', RATE_LIMIT_REGISTER_IP: '2/3600000' } })
  if (built === undefined) return
  const attempt = (forged: string) => built.app.inject({
    method: 'POST', url: '/v1/auth/register', remoteAddress: '10.9.9.9',
    headers: { 'x-forwarded-for': `${forged}, 203.0.113.9` },
    payload: { username: uniqueName('xff'), email: `${uniqueName('xff')}@example.com`, password: 'correct horse battery' }
  })
  const codes = [(await attempt('1.1.1.1')).statusCode, (await attempt('2.2.2.2')).statusCode, (await attempt('3.3.3.3')).statusCode]
  t.same(codes, [201, 201, 429], 'three forged first entries, one client: the third is refused')
})

t.test('production refuses TRUST_PROXY=true; hop counts and address lists are taken', async (t) => {
  const prod = { NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-that-is-long-enough-0123', PUBLIC_URL: 'https://chat.example.com', METRICS_TOKEN: 'a-metrics-token-for-the-test' }
  t.throws(() => loadConfig({ ...prod, TRUST_PROXY: 'true' }), /TRUST_PROXY=true is refused/)
  t.equal(typeof loadConfig({ ...prod, TRUST_PROXY: '2' }).trustProxy, 'function')
  t.equal(loadConfig({ ...prod, TRUST_PROXY: '10.0.0.0/8,192.0.2.1' }).trustProxy, '10.0.0.0/8,192.0.2.1')
  t.throws(() => loadConfig({ TRUST_PROXY: 'yes please' }), /TRUST_PROXY/)
})

t.test('IPv6 clients are limited by their /64, not by each address', async (t) => {
  t.equal(addressKey('2001:db8:1:2::1'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:0db8:0001:0002:ffff:0:0:2'), '2001:db8:1:2::/64')
  t.equal(addressKey('::ffff:203.0.113.4'), '203.0.113.4')
  t.equal(addressKey('203.0.113.4'), '203.0.113.4')
  const built = await buildTestApp(t, { env: { RATE_LIMIT_REGISTER_IP: '2/3600000' } })
  if (built === undefined) return
  const attempt = (remoteAddress: string) => built.app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress, payload: { username: uniqueName('v6'), email: `${uniqueName('v6')}@example.com`, password: 'correct horse battery' } })
  const codes = [(await attempt('2001:db8:1:2::1')).statusCode, (await attempt('2001:db8:1:2::2')).statusCode, (await attempt('2001:db8:1:2:abcd::3')).statusCode]
  t.same(codes, [201, 201, 429], 'one /64 shares one budget')
  t.equal((await attempt('2001:db8:1:3::1')).statusCode, 201, 'another /64 has its own')
})

t.test('the per-login limit is one budget per account, by username or by email', async (t) => {
  const built = await buildTestApp(t, { env: { RATE_LIMIT_LOGIN_NAME: '2/60000', RATE_LIMIT_LOGIN_IP: '1000/60000' } })
  if (built === undefined) return
  const u = await register(built.app, 'acct')
  const login = (name: string) => built.app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: uniqueAddress(), payload: { login: name, password: 'wrong password' } })
  const codes = [(await login(u.username)).statusCode, (await login(u.email)).statusCode, (await login(u.username.toUpperCase())).statusCode]
  t.same(codes, [401, 401, 429], 'the username and the email spend one budget')
})

t.test('a webhook\'s URL is built on PUBLIC_URL, not on the Host header a client sends', async (t) => {
  const built = await buildTestApp(t, { env: { PUBLIC_URL: 'https://chat.example.com' } })
  if (built === undefined) return
  const [a, b] = await users(built.app, 2, 'whurl')
  const id = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const res = await a!.post(`/v1/conversations/${id}/webhooks`, { name: 'ci' }, { host: 'evil.example', 'x-forwarded-proto': 'http' })
  t.equal(res.status, 201)
  t.match(res.body.url, /^https:\/\/chat\.example\.com\/v1\/webhooks\//)
})

forEachStore(t, 'per-user limits on starting conversations, participant changes, renames and webhooks; webhooks share their conversation\'s budget', async (t, app) => {
  const [me, a, b] = await users(app, 3, 'lim')
  const group = (await me!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [a!.user.id] })).body.id
  t.equal((await me!.post('/v1/conversations', { type: 'direct', participantIds: [a!.user.id] })).status, 201)
  const third = await me!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })
  t.equal(third.status, 429, 'a third conversation within the window')
  t.ok(Number(third.headers['retry-after']) >= 1)
  t.equal((await me!.patch(`/v1/conversations/${group}`, { name: 'one' })).status, 200)
  t.equal((await me!.patch(`/v1/conversations/${group}`, { name: 'two' })).status, 429, 'a second rename')
  t.equal((await me!.post(`/v1/conversations/${group}/participants`, { userIds: [b!.user.id] })).status, 200)
  t.equal((await me!.del(`/v1/conversations/${group}/participants/${b!.user.id}`)).status, 429, 'a second participant change')
  t.equal((await a!.del(`/v1/conversations/${group}/participants/${a!.user.id}`)).status, 204, 'leaving is never limited')
  const hooks = [(await me!.post(`/v1/conversations/${group}/webhooks`, { name: 'one' })).body, (await me!.post(`/v1/conversations/${group}/webhooks`, { name: 'two' })).body]
  t.equal((await me!.post(`/v1/conversations/${group}/webhooks`, { name: 'three' })).status, 429, 'a third webhook')
  const post = (h: { id: string, token: string }) => app.inject({ method: 'POST', url: `/v1/webhooks/${h.id}/${h.token}`, payload: { content: 'x' } })
  const codes = [(await post(hooks[0])).statusCode, (await post(hooks[1])).statusCode, (await post(hooks[0])).statusCode, (await post(hooks[1])).statusCode]
  t.same(codes, [201, 201, 201, 429], 'two webhooks, each within its own budget of 2, share the conversation\'s 3')
}, { env: { RATE_LIMIT_CONVERSATION_CREATE: '2/3600000', RATE_LIMIT_CONVERSATION_UPDATE: '1/3600000', RATE_LIMIT_PARTICIPANT_CHANGE: '1/3600000', RATE_LIMIT_WEBHOOK_CREATE: '2/3600000', RATE_LIMIT_WEBHOOK: '2/60000', RATE_LIMIT_WEBHOOK_CONVERSATION: '3/60000' } })

t.test('access tokens need our iss and aud, an exp and an iat, and are no older than their lifetime', async (t) => {
  const built = await buildTestApp(t, { env: { ACCESS_TOKEN_TTL_SECONDS: '600' } })
  if (built === undefined) return
  const u = await register(built.app, 'jwtc')
  const now = Math.floor(Date.now() / 1000)
  const me = (token: string) => built.app.inject({ url: '/v1/users/me', headers: { authorization: `Bearer ${token}` } })
  t.equal((await me(u.accessToken)).statusCode, 200, 'an issued token works')
  t.equal((await me(makeJwt({ sub: u.id, jti: 'ok', iat: now, exp: now + 60 }, { secret: TEST_JWT_SECRET }))).statusCode, 200, 'so does a hand-made one with every claim')
  const refused: Array<[string, Record<string, unknown>]> = [
    ['no exp', { sub: u.id, jti: 'a', iat: now }],
    ['no iat', { sub: u.id, jti: 'b', exp: now + 60 }],
    ['another issuer', { sub: u.id, jti: 'c', iat: now, exp: now + 60, iss: 'someone-else' }],
    ['no issuer', { sub: u.id, jti: 'd', iat: now, exp: now + 60, iss: undefined }],
    ['another audience', { sub: u.id, jti: 'e', iat: now, exp: now + 60, aud: 'another-api' }],
    ['older than its lifetime', { sub: u.id, jti: 'f', iat: now - 3600, exp: now + 60 }],
    ['no session', { sub: u.id, jti: 'g', iat: now, exp: now + 60, sid: undefined }]
  ]
  for (const [why, claims] of refused) t.equal((await me(makeJwt(claims, { secret: TEST_JWT_SECRET }))).statusCode, 401, why)
})

t.test('while Redis does not answer, login limits are counted on the node, never opened', async (t) => {
  const built = await buildTestApp(t, { broker: 'redis', env: { RATE_LIMIT_LOGIN_NAME: '3/60000', RATE_LIMIT_LOGIN_IP: '1000/60000' } })
  if (built === undefined) return
  const u = await register(built.app, 'outage')
  built.app.redis.disconnect() // Redis gone: every command fails at once
  const login = () => built.app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: uniqueAddress(), payload: { login: u.username, password: 'wrong password' } })
  const codes: number[] = []
  for (let i = 0; i < 5; i++) codes.push((await login()).statusCode)
  t.same(codes, [401, 401, 401, 429, 429], 'the fourth guess within the window is refused')
})

t.test('a socket\'s frames wait in the network, not in the server, while the store is slow', async (t) => {
  // The store answers conversation reads only when `hold` resolves: a slow database, for the sync frames below.
  const store = createMemoryStore()
  const findById = store.conversations.findById.bind(store.conversations)
  let hold: Promise<void> = Promise.resolve()
  store.conversations.findById = async (...args) => { await hold; return findById(...args) }
  // 200 frames in a burst: the frame limit is raised so that only the pending bound is at work.
  const built = await buildTestApp(t, { env: { WS_MAX_PENDING_FRAMES: '8', WS_FRAME_BURST: '1000' }, build: { store: { store } } })
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const [me, other] = await users(app, 2, 'pend')
  const id = (await me!.post('/v1/conversations', { type: 'direct', participantIds: [other!.user.id] })).body.id
  t.equal((await me!.post(`/v1/conversations/${id}/messages`, { content: 'to replay', clientMessageId: 'c1' })).status, 201)
  const ws = await WsClient.connect(base, me!.user.accessToken)
  t.teardown(() => ws.close())
  await ws.roundTrip()
  let release = () => {}
  hold = new Promise((resolve) => { release = resolve })
  for (let i = 0; i < 200; i++) {
    ws.send({ type: 'sync', cursors: { [id]: 0 } })
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  const read = async () => Number(/ws_frames_total\{direction="in",type="sync"\} (\d+)/.exec((await app.inject('/metrics')).body)?.[1] ?? 0)
  const whileSlow = await read()
  t.ok(whileSlow <= 8 + 4, `${whileSlow} of 200 frames read while none could be handled`)
  release()
  await ws.waitFor('sync_complete', () => true, 200, 10_000)
  t.equal(await read(), 200, 'once the store answers, every frame is read and answered')
})

for (const deployment of ['memory', 'mongo+redis'] as const) {
  t.test(`logout and a reused refresh token end the session's access tokens and sockets at once, on every node [${deployment}]`, async (t) => {
    const nodes = await startNodes(t, deployment, 2)
    if (nodes === undefined) return
    const [a, b] = nodes as [Node, Node]
    const u = await register(a.app, 'endsess')
    const other = (await a.app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: uniqueAddress(), payload: { login: u.username, password: 'correct horse battery' } })).json() as { accessToken: string, refreshToken: string }
    const me = (node: Node, token: string) => node.app.inject({ url: '/v1/users/me', headers: { authorization: `Bearer ${token}` } })
    t.equal((await me(b, u.accessToken)).statusCode, 200)
    const onB = await WsClient.connect(b.base, u.accessToken)
    const otherOnB = await WsClient.connect(b.base, other.accessToken)
    t.teardown(() => { onB.close(); otherOnB.close() })
    await onB.roundTrip()
    await otherOnB.roundTrip()

    t.equal((await a.app.inject({ method: 'POST', url: '/v1/auth/logout', payload: { refreshToken: u.refreshToken } })).statusCode, 204)
    const closed = await onB.waitClosed()
    t.equal(closed.code, 4401, 'its socket on the other node is closed with 4401')
    for (const node of [a, b]) t.equal((await me(node, u.accessToken)).statusCode, 401, 'its access token is refused on both nodes')
    const upgrade = await WsClient.connect(b.base, u.accessToken).then((ws) => { ws.close(); return 101 }, (err: { statusCode?: number }) => err.statusCode)
    t.equal(upgrade, 401, 'and cannot open a socket')
    t.equal((await me(b, other.accessToken)).statusCode, 200, 'the user\'s other session goes on')
    await otherOnB.roundTrip()
    t.equal(otherOnB.closed, undefined, 'and so does its socket')

    // A refresh token used twice revokes its family: the thief's and the owner's access tokens both end.
    const refresh = (token: string) => b.app.inject({ method: 'POST', url: '/v1/auth/refresh', remoteAddress: uniqueAddress(), payload: { refreshToken: token } })
    const rotated = (await refresh(other.refreshToken)).json() as { accessToken: string }
    t.equal((await me(a, rotated.accessToken)).statusCode, 200)
    t.equal((await refresh(other.refreshToken)).statusCode, 401, 'the reuse is refused')
    for (const token of [other.accessToken, rotated.accessToken]) t.equal((await me(a, token)).statusCode, 401, 'every access token of the family is refused')
    t.equal((await otherOnB.waitClosed()).code, 4401)
  })
}

t.test('log lines never carry a token, however the URL spells it', async (t) => {
  const logs: string[] = []
  const built = await buildTestApp(t, { logs })
  if (built === undefined) return
  const { app } = built
  const u = await register(app, 'redact')
  const [a, b] = await users(app, 2, 'redact')
  const id = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const hook = (await a!.post(`/v1/conversations/${id}/webhooks`, { name: 'ci' })).body as { id: string, token: string }
  const urls = [
    `/v1/ws?%74oken=${u.accessToken}`,
    `/v1/ws?TOKEN=${u.accessToken}`,
    `/v1/ws?x=1&access%5Ftoken=${u.accessToken}`,
    `/v1/webhooks//${hook.id}/${hook.token}`,
    `/v1//webhooks/${hook.id}/${hook.token}?x=1`,
    `/v1/%77ebhooks/${hook.id}/${hook.token}`,
    '/v1/attachments/665f1c2ab4d5e6f7a8b9c0d1?expires=99999999999&signature=SIGNED-LINK-SECRET'
  ]
  for (const url of urls) await app.inject({ method: url.includes('webhooks') ? 'POST' : 'GET', url, payload: url.includes('webhooks') ? { content: 'x' } : undefined })
  const text = logs.join('\n')
  t.ok(text.includes('[redacted]'), 'the URLs were logged, masked')
  t.notOk(text.includes(u.accessToken), 'no access token in the log')
  t.notOk(text.includes(hook.token), 'no webhook token in the log')
  t.notOk(text.includes('SIGNED-LINK-SECRET'), 'no attachment link signature in the log')
})

forEachStore(t, 'caps: groups per creator, webhooks per creator and per conversation (409, and room again after a removal)', async (t, app) => {
  const [me, a, b] = await users(app, 3, 'cap')
  const group = async (who: Client) => who.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [a!.user.id] })
  const first = await group(me!)
  t.equal(first.status, 201)
  t.equal((await group(me!)).status, 201)
  const third = await group(me!)
  t.equal(third.status, 409, 'a third group of mine')
  t.equal(third.body.code, 'CONFLICT')
  t.equal((await group(b!)).status, 201, 'another creator has their own count')
  t.equal((await me!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).status, 201, 'direct conversations are not groups')

  const gid = first.body.id
  const hook = (who: Client, cid: string) => who.post(`/v1/conversations/${cid}/webhooks`, { name: 'w' })
  const mine = [await hook(me!, gid), await hook(me!, gid)]
  t.same(mine.map((r) => r.status), [201, 201])
  const second = (await group(b!)).body.id // b is in a group with a; me is not in it
  t.equal((await hook(a!, gid)).status, 201, 'a third webhook here, by another participant')
  t.equal((await hook(a!, gid)).status, 409, 'a fourth in one conversation')
  t.equal((await hook(me!, (await me!.get('/v1/conversations')).body.items.find((c: { type: string }) => c.type === 'direct').id)).status, 409, 'a third of mine, elsewhere')
  t.equal((await me!.del(`/v1/conversations/${gid}/webhooks/${mine[0]!.body.id}`)).status, 204)
  t.equal((await hook(me!, gid)).status, 201, 'room again after a removal')
  t.equal((await hook(b!, second)).status, 201)
}, { env: { MAX_GROUPS_PER_USER: '2', MAX_WEBHOOKS_PER_USER: '2', MAX_WEBHOOKS_PER_CONVERSATION: '3', RATE_LIMIT_CONVERSATION_CREATE: '100/60000', RATE_LIMIT_WEBHOOK_CREATE: '100/60000' } })

forEachStore(t, 'races: two hand-overs at once leave one owner; concurrent adds and removes leave participantIds as the memberships', async (t, app) => {
  const [owner, a, b, x] = await users(app, 4, 'race')
  const roleOf = async (cid: string) => new Map((await owner!.get(`/v1/conversations/${cid}/participants`)).body.items.map((p: { userId: string, role: string }) => [p.userId, p.role]))
  for (let round = 0; round < 5; round++) {
    const cid = (await owner!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [a!.user.id, b!.user.id] })).body.id
    const [toA, toB] = await Promise.all([
      owner!.put(`/v1/conversations/${cid}/participants/${a!.user.id}/role`, { role: 'owner' }),
      owner!.put(`/v1/conversations/${cid}/participants/${b!.user.id}/role`, { role: 'owner' })
    ])
    t.same([toA.status, toB.status].sort(), [200, 403], `round ${round}: one hand-over goes through`)
    const roles = [...(await roleOf(cid)).values()]
    t.equal(roles.filter((r) => r === 'owner').length, 1, 'one owner')
  }
  const cid = (await owner!.post('/v1/conversations', { type: 'group', name: 'h', participantIds: [a!.user.id] })).body.id
  for (let round = 0; round < 10; round++) {
    await Promise.all([
      owner!.post(`/v1/conversations/${cid}/participants`, { userIds: [x!.user.id] }),
      owner!.del(`/v1/conversations/${cid}/participants/${x!.user.id}`)
    ])
    const members = (await owner!.get(`/v1/conversations/${cid}/participants`)).body.items.map((p: { userId: string }) => p.userId).sort()
    const listed = (await owner!.get(`/v1/conversations/${cid}`)).body.participantIds.slice().sort()
    t.same(listed, members, `round ${round}: participantIds are the memberships`)
  }
}, { env: { RATE_LIMIT_PARTICIPANT_CHANGE: '1000/60000', RATE_LIMIT_CONVERSATION_CREATE: '100/60000' } })

t.test('a conversation_updated that arrives after a removal does not put the removed user\'s sockets back in', async (t) => {
  const built = await buildTestApp(t)
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const [owner, x] = await users(app, 2, 'stale')
  const cid = (await owner!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [x!.user.id] })).body.id
  const before = (await owner!.get(`/v1/conversations/${cid}`)).body
  const ws = await WsClient.connect(base, x!.user.accessToken)
  t.teardown(() => ws.close())
  await ws.roundTrip()
  t.equal((await owner!.del(`/v1/conversations/${cid}/participants/${x!.user.id}`)).status, 204)
  await ws.waitFor('conversation_updated', (f) => !f.conversation.participantIds.includes(x!.user.id))
  // The event of an earlier change (x still in), delivered late, as another node's publish can be.
  await app.broker.publish(channels.user(x!.user.id), { event: { type: 'conversation_updated', conversation: before } })
  await ws.roundTrip()
  t.equal((await owner!.post(`/v1/conversations/${cid}/messages`, { content: 'not for x', clientMessageId: 'after' })).status, 201)
  await ws.roundTrip()
  t.equal(ws.all('new_message').length, 0, 'the removed user gets nothing of the conversation')
})
