import t from 'tap'
import { buildTestApp, forEachStore, register } from '../helper.js'

forEachStore(t, 'me shows my email; other users never show theirs', async (t, app) => {
  const me = await register(app, 'Me')
  const other = await register(app, 'Other')
  const mine = await app.inject({ url: '/v1/users/me', headers: me.auth })
  t.match(mine.json(), { id: me.id, username: me.username, email: me.email })
  t.notOk('passwordHash' in mine.json())

  const theirs = await app.inject({ url: `/v1/users/${other.id}`, headers: me.auth })
  t.equal(theirs.statusCode, 200)
  t.same(Object.keys(theirs.json()).sort(), ['bot', 'createdAt', 'id', 'lastSeen', 'username'])
  t.notOk(theirs.body.includes(other.email))

  const found = await app.inject({ url: `/v1/users?query=${other.username.slice(0, 5).toUpperCase()}`, headers: me.auth })
  t.equal(found.statusCode, 200)
  const items = found.json().items as Array<Record<string, unknown>>
  t.ok(items.some((u) => u.id === other.id), 'prefix search ignores case')
  t.notOk(found.body.includes('@example.com'), 'no email in search results, not even my own')
})

forEachStore(t, 'search is capped and validated', async (t, app) => {
  const me = await register(app, 'Cap')
  for (let i = 0; i < 3; i++) await register(app, 'Capped')
  const two = await app.inject({ url: '/v1/users?query=capped&limit=2', headers: me.auth })
  t.equal(two.json().items.length, 2)
  for (const url of ['/v1/users', '/v1/users?query=', '/v1/users?query=a&limit=0', '/v1/users?query=a&limit=51', '/v1/users?query=a&limit=x', '/v1/users?query=a&other=1']) {
    const res = await app.inject({ url, headers: me.auth })
    t.equal(res.statusCode, 400, url)
    t.match(res.json(), { code: 'VALIDATION_ERROR' })
  }
  const regex = await app.inject({ url: `/v1/users?query=${encodeURIComponent('.*')}`, headers: me.auth })
  t.same(regex.json().items, [], 'the query is a literal prefix, not a pattern')
})

forEachStore(t, 'users by id: 400 for a malformed id, 404 for an unknown one', async (t, app) => {
  const me = await register(app, 'Ids')
  const bad = await app.inject({ url: '/v1/users/not-an-id', headers: me.auth })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'VALIDATION_ERROR', field: 'id' })
  const missing = await app.inject({ url: `/v1/users/${'a'.repeat(24)}`, headers: me.auth })
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { code: 'NOT_FOUND' })
})

forEachStore(t, 'PATCH me sets and clears the display name and avatar', async (t, app) => {
  const me = await register(app, 'Patch')
  const set = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: me.auth, payload: { displayName: 'Ada L.', avatar: 'https://example.com/a.png' } })
  t.equal(set.statusCode, 200)
  t.match(set.json(), { displayName: 'Ada L.', avatar: 'https://example.com/a.png', email: me.email })
  const cleared = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: me.auth, payload: { avatar: null } })
  t.notOk('avatar' in cleared.json())
  t.equal(cleared.json().displayName, 'Ada L.')
  for (const payload of [{}, { avatar: 'javascript:alert(1)' }, { displayName: '' }, { username: 'renamed' }, { displayName: 5 }]) {
    const res = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: me.auth, payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
  }
  const seen = await app.inject({ url: `/v1/users/${me.id}`, headers: (await register(app, 'Viewer')).auth })
  t.equal(seen.json().displayName, 'Ada L.')
})

t.test('rate limits: 429 RATE_LIMITED with Retry-After, per IP and per login name', async (t) => {
  const built = await buildTestApp(t, { env: { RATE_LIMITS: 'on', RATE_LIMIT_LOGIN_NAME: '3/60000', RATE_LIMIT_LOGIN_IP: '100/60000', RATE_LIMIT_REGISTER_IP: '2/60000', RATE_LIMIT_REFRESH_IP: '2/60000' } })
  if (built === undefined) return
  const { app } = built
  const u = await register(app, 'Limited')
  const attempt = (login: string, remoteAddress: string) =>
    app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress, payload: { login, password: 'wrong password' } })
  for (let i = 0; i < 3; i++) t.equal((await attempt(u.username, `10.0.0.${i + 1}`)).statusCode, 401)
  const limited = await attempt(u.username.toUpperCase(), '10.0.0.9')
  t.equal(limited.statusCode, 429, 'the name is limited whatever the address and case')
  t.match(limited.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests' })
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After is set')
  t.equal((await attempt('someone-else', '10.0.0.9')).statusCode, 401, 'other names are not affected')

  const reg = (n: number) => app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: '10.1.1.1', payload: { username: `rl${n}${process.pid}`, email: `rl${n}${process.pid}@example.com`, password: 'password123' } })
  t.equal((await reg(1)).statusCode, 201, 'register() above used another address')
  t.equal((await reg(2)).statusCode, 201)
  t.equal((await reg(3)).statusCode, 429, 'registrations per IP')

  const refresh = () => app.inject({ method: 'POST', url: '/v1/auth/refresh', remoteAddress: '10.2.2.2', payload: { refreshToken: 'whatever' } })
  t.equal((await refresh()).statusCode, 401)
  t.equal((await refresh()).statusCode, 401)
  t.equal((await refresh()).statusCode, 429, 'refreshes per IP')
})

t.test('rate limits are shared across nodes through Redis', async (t) => {
  const env = { RATE_LIMITS: 'on', RATE_LIMIT_LOGIN_NAME: '2/60000' }
  const a = await buildTestApp(t, { broker: 'redis', env })
  if (a === undefined) return
  const b = await buildTestApp(t, { broker: 'redis', env, redisPrefix: a.redisPrefix! })
  if (b === undefined) return
  const login = { method: 'POST' as const, url: '/v1/auth/login', payload: { login: 'shared-name', password: 'wrong password' } }
  t.equal((await a.app.inject(login)).statusCode, 401)
  t.equal((await b.app.inject(login)).statusCode, 401)
  t.equal((await a.app.inject(login)).statusCode, 429, 'the third attempt, on either node, is refused')
  t.equal((await b.app.inject(login)).statusCode, 429)
})

t.test('no log line carries a password, a hash, a refresh token or an access token', async (t) => {
  const logs: string[] = []
  const built = await buildTestApp(t, { logs })
  if (built === undefined) return
  const { app } = built
  const u = await register(app, 'Logged')
  const refreshed = (await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: u.refreshToken } })).json()
  await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { login: u.username, password: 'a wrong password' } })
  await app.inject({ url: '/v1/users/me', headers: u.auth })
  await app.inject({ url: `/v1/users/me?token=${u.accessToken}` })
  await app.inject({ method: 'POST', url: '/v1/auth/logout', payload: { refreshToken: refreshed.refreshToken } })
  await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { login: u.username, password: 12345 } })
  const all = logs.join('\n')
  t.ok(logs.length > 10, 'requests were logged')
  for (const secret of [u.password, 'a wrong password', u.refreshToken, refreshed.refreshToken, u.accessToken, u.accessToken.split('.')[2]!, 'scrypt$']) {
    t.notOk(all.includes(secret), `no ${secret.slice(0, 6)}… in logs`)
  }
})
