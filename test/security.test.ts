/** Regression tests of what an attacker tried (issue: security hardening), one per finding fixed. */
import t from 'tap'
import { buildTestApp, forEachStore, uniqueAddress, uniqueName } from './helper.js'

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

t.test('readiness names the dependency that is down, never the driver\'s error text', async (t) => {
  const built = await buildTestApp(t, { env: { MONGODB_URL: 'mongodb://127.0.0.1:9/nothing-here', MONGODB_TIMEOUT_MS: '300', DEPENDENCY_TIMEOUT_MS: '2000' } })
  if (built === undefined) return
  const res = await built.app.inject('/health/ready')
  t.equal(res.statusCode, 503)
  const { checks } = res.json() as { checks: { store: { status: string, error: string } } }
  t.equal(checks.store.status, 'down')
  t.match(checks.store.error, /^(unreachable|no answer within \d+ ms)$/)
  t.notMatch(res.body, /127\.0\.0\.1|ECONNREFUSED|Server selection|:9/, 'no host, port or driver message')
})

t.test('the metrics token is compared as a whole', async (t) => {
  const built = await buildTestApp(t, { env: { METRICS_TOKEN: 'metrics-token-0123456789' } })
  if (built === undefined) return
  const scrape = (authorization: string) => built.app.inject({ url: '/metrics', headers: { authorization } })
  t.equal((await scrape('Bearer metrics-token-0123456789')).statusCode, 200)
  for (const wrong of ['Bearer metrics-token-012345678', 'Bearer metrics-token-01234567890', 'metrics-token-0123456789', '']) t.equal((await scrape(wrong)).statusCode, 401, JSON.stringify(wrong))
})
