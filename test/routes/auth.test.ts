import t from 'tap'
import { forEachStore, register, TEST_JWT_SECRET, uniqueAddress, uniqueName } from '../helper.js'
import { makeJwt } from '../jwt.js'

const post = (url: string, payload: unknown) => ({ method: 'POST' as const, url, payload: payload as object })

forEachStore(t, 'register answers a session and the user without secrets', async (t, app) => {
  const username = uniqueName('Ada')
  const res = await app.inject(post('/v1/auth/register', { username, email: `${username}@Example.com`, password: 'password123' }))
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'user'])
  t.equal(body.expiresIn, 900)
  t.match(body.user, { id: /^[0-9a-f]{24}$/, username, email: `${username}@Example.com`, bot: false })
  t.notOk('passwordHash' in body.user)
  t.notOk(res.body.includes('scrypt'), 'no hash anywhere in the answer')
  const claims = JSON.parse(Buffer.from(body.accessToken.split('.')[1], 'base64url').toString())
  t.equal(claims.sub, body.user.id)
  t.type(claims.jti, 'string')
  t.equal(claims.exp - claims.iat, 900)
})

forEachStore(t, 'usernames and emails are unique without regard to case: 409 naming the field', async (t, app) => {
  const a = await register(app, 'Case')
  const byName = await app.inject(post('/v1/auth/register', { username: a.username.toUpperCase(), email: 'other@example.com', password: 'password123' }))
  t.equal(byName.statusCode, 409)
  t.match(byName.json(), { code: 'CONFLICT', field: 'username' })
  const byEmail = await app.inject(post('/v1/auth/register', { username: uniqueName('x'), email: a.email.toUpperCase(), password: 'password123' }))
  t.equal(byEmail.statusCode, 409)
  t.match(byEmail.json(), { code: 'CONFLICT', field: 'email' })
})

forEachStore(t, 'registration rules: 400 VALIDATION_ERROR naming the field', async (t, app) => {
  const ok = { username: uniqueName('v'), email: 'v@example.com', password: 'password123' }
  const cases: Array<[object, string]> = [
    [{ ...ok, username: 'ab' }, 'username'],
    [{ ...ok, username: 'a'.repeat(33) }, 'username'],
    [{ ...ok, username: 'has space' }, 'username'],
    [{ ...ok, username: 'émile' }, 'username'],
    [{ ...ok, email: 'not-an-email' }, 'email'],
    [{ ...ok, password: 'short' }, 'password'],
    [{ ...ok, password: 'x'.repeat(129) }, 'password'],
    [{ ...ok, password: 12345678 }, 'password'],
    [{ ...ok, isAdmin: true }, 'isAdmin'],
    [{ username: ok.username, password: ok.password }, 'email']
  ]
  // Each from an address of its own: refused registrations count against the address's limit too.
  for (const [payload, field] of cases) {
    const res = await app.inject({ ...post('/v1/auth/register', payload), remoteAddress: uniqueAddress() })
    t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 80))
    t.match(res.json(), { code: 'VALIDATION_ERROR', field, message: new RegExp(field) })
  }
  t.equal((await app.inject({ ...post('/v1/auth/register', ok), remoteAddress: uniqueAddress() })).statusCode, 201, 'nothing half-written blocked the valid one')
})

forEachStore(t, 'login by username or email, in any case; wrong password and unknown user look alike', async (t, app) => {
  const u = await register(app, 'Login')
  for (const login of [u.username, u.username.toUpperCase(), u.email, u.email.toUpperCase()]) {
    const res = await app.inject(post('/v1/auth/login', { login, password: u.password }))
    t.equal(res.statusCode, 200, login)
    t.equal(res.json().user.id, u.id)
  }
  const wrong = await app.inject(post('/v1/auth/login', { login: u.username, password: 'wrong password' }))
  const unknown = await app.inject(post('/v1/auth/login', { login: 'nobody-here', password: 'wrong password' }))
  t.equal(wrong.statusCode, 401)
  t.equal(unknown.statusCode, 401)
  t.same(wrong.json(), unknown.json())
  t.match(wrong.json(), { code: 'UNAUTHORIZED' })
})

forEachStore(t, 'operator injection in a login is a 400, never a query', async (t, app) => {
  await register(app, 'Inj')
  for (const payload of [{ login: { $gt: '' }, password: 'x' }, { login: 'x', password: { $ne: null } }, { login: ['a'], password: 'x' }, { login: 5, password: 'x' }]) {
    const res = await app.inject(post('/v1/auth/login', payload))
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.json(), { code: 'VALIDATION_ERROR' })
  }
})

forEachStore(t, 'refresh rotates: the new pair works, the old refresh token stops at once', async (t, app) => {
  const u = await register(app, 'Rot')
  const first = await app.inject(post('/v1/auth/refresh', { refreshToken: u.refreshToken }))
  t.equal(first.statusCode, 200)
  const next = first.json()
  t.not(next.refreshToken, u.refreshToken)
  t.equal(next.user.id, u.id)
  t.equal((await app.inject({ url: '/v1/users/me', headers: { authorization: `Bearer ${next.accessToken}` } })).statusCode, 200)
  const second = await app.inject(post('/v1/auth/refresh', { refreshToken: next.refreshToken }))
  t.equal(second.statusCode, 200, 'the rotated-to token rotates in turn')
})

forEachStore(t, 'reusing a rotated refresh token revokes the whole family', async (t, app) => {
  const u = await register(app, 'Reuse')
  const rotated = (await app.inject(post('/v1/auth/refresh', { refreshToken: u.refreshToken }))).json()
  const reuse = await app.inject(post('/v1/auth/refresh', { refreshToken: u.refreshToken }))
  t.equal(reuse.statusCode, 401)
  t.match(reuse.json(), { code: 'UNAUTHORIZED', message: /revoked/ })
  const heir = await app.inject(post('/v1/auth/refresh', { refreshToken: rotated.refreshToken }))
  t.equal(heir.statusCode, 401, 'the legitimate successor is revoked too')

  const other = (await app.inject(post('/v1/auth/login', { login: u.username, password: u.password }))).json()
  t.equal((await app.inject(post('/v1/auth/refresh', { refreshToken: other.refreshToken }))).statusCode, 200, 'another session (family) is untouched')
})

forEachStore(t, 'racing refreshes of one token: at most one wins, and the family ends', async (t, app) => {
  const u = await register(app, 'Race')
  const results = await Promise.all(Array.from({ length: 4 }, () => app.inject(post('/v1/auth/refresh', { refreshToken: u.refreshToken }))))
  const wins = results.filter((r) => r.statusCode === 200)
  t.ok(wins.length <= 1, `${wins.length} succeeded`)
  t.ok(results.filter((r) => r.statusCode === 401).length >= 3)
  for (const w of wins) {
    t.equal((await app.inject(post('/v1/auth/refresh', { refreshToken: w.json().refreshToken }))).statusCode, 401, 'the reuse revoked the winner\'s family')
  }
})

forEachStore(t, 'logout revokes the family; unknown tokens still answer 204', async (t, app) => {
  const u = await register(app, 'Out')
  const rotated = (await app.inject(post('/v1/auth/refresh', { refreshToken: u.refreshToken }))).json()
  const out = await app.inject(post('/v1/auth/logout', { refreshToken: rotated.refreshToken }))
  t.equal(out.statusCode, 204)
  t.equal(out.body, '')
  t.equal((await app.inject(post('/v1/auth/refresh', { refreshToken: rotated.refreshToken }))).statusCode, 401)
  t.equal((await app.inject(post('/v1/auth/logout', { refreshToken: 'never-issued' }))).statusCode, 204)
  t.equal((await app.inject(post('/v1/auth/refresh', { refreshToken: 'never-issued' }))).statusCode, 401)
})

forEachStore(t, 'access tokens: missing, malformed, expired, tampered, wrongly signed or unsigned get 401', async (t, app) => {
  const u = await register(app, 'Tok')
  const now = Math.floor(Date.now() / 1000)
  const [h, p, s] = u.accessToken.split('.') as [string, string, string]
  const tamperedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: '0'.repeat(24) })).toString('base64url')
  const cases: Array<[string, Record<string, string>]> = [
    ['missing', {}],
    ['not bearer', { authorization: `Basic ${u.accessToken}` }],
    ['malformed', { authorization: 'Bearer not.a.jwt' }],
    ['garbage', { authorization: 'Bearer ' + 'x'.repeat(40) }],
    ['expired', { authorization: `Bearer ${makeJwt({ sub: u.id, jti: 'j', iat: now - 1000, exp: now - 10 }, { secret: TEST_JWT_SECRET })}` }],
    ['tampered payload', { authorization: `Bearer ${h}.${tamperedPayload}.${s}` }],
    ['wrong secret', { authorization: `Bearer ${makeJwt({ sub: u.id, jti: 'j', iat: now, exp: now + 600 }, { secret: 'another-secret-another-secret-another' })}` }],
    ['alg none', { authorization: `Bearer ${makeJwt({ sub: u.id, jti: 'j', iat: now, exp: now + 600 }, { alg: 'none' })}` }],
    ['no sub', { authorization: `Bearer ${makeJwt({ jti: 'j', iat: now, exp: now + 600 }, { secret: TEST_JWT_SECRET })}` }]
  ]
  for (const [name, headers] of cases) {
    const res = await app.inject({ url: '/v1/users/me', headers })
    t.equal(res.statusCode, 401, name)
    t.match(res.json(), { statusCode: 401, code: 'UNAUTHORIZED', error: 'Unauthorized' }, name)
  }
  const expired = await app.inject({ url: '/v1/users/me', headers: cases[4]![1] })
  t.match(expired.json().message, /expired/)
  t.equal((await app.inject({ url: '/v1/users/me', headers: u.auth })).statusCode, 200, 'the genuine one works')
})
