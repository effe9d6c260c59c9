import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'

t.test('defaults: memory store, in-process broker, port 3000, a generated secret', async (t) => {
  const c = loadConfig({})
  t.equal(c.PORT, 3000)
  t.equal(c.HOST, '0.0.0.0')
  t.equal(c.MONGODB_URL, undefined)
  t.equal(c.REDIS_URL, undefined)
  t.equal(c.NODE_ENV, 'development')
  t.equal(c.jwtSecretGenerated, true)
  t.ok(c.JWT_SECRET.length >= 32)
  t.not(loadConfig({}).JWT_SECRET, c.JWT_SECRET, 'a new secret per process')
  t.same(c.rateLimits?.loginName, { max: 10, windowMs: 60000 })
})

t.test('values are parsed and typed', async (t) => {
  const c = loadConfig({ PORT: '8080', MONGODB_URL: 'mongodb://db:27017/chat', REDIS_URL: 'redis://r:6379', CORS_ORIGINS: 'https://a.example, https://b.example', RATE_LIMITS: 'off', LOG_LEVEL: 'debug' })
  t.equal(c.PORT, 8080)
  t.same(c.corsOrigins, ['https://a.example', 'https://b.example'])
  t.equal(c.rateLimits, null)
  t.equal(c.LOG_LEVEL, 'debug')
})

t.test('a bad value stops the start with a message naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /PORT must be integer/],
    [{ PORT: '70000' }, /PORT must be <= 65535/],
    [{ MONGODB_URL: 'http://x' }, /MONGODB_URL must match/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL must match/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ JWT_SECRET: 'short' }, /JWT_SECRET must NOT have fewer than 32 characters/],
    [{ RATE_LIMIT_LOGIN_IP: 'ten' }, /RATE_LIMIT_LOGIN_IP must match/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), message, JSON.stringify(env))
    t.throws(() => loadConfig(env), ConfigError)
  }
})

t.test('production refuses to start without JWT_SECRET, PUBLIC_URL or METRICS_TOKEN, with a weak secret, or with RATE_LIMITS=off', async (t) => {
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), /JWT_SECRET must be set when NODE_ENV=production/)
  const secret = 'Qm9yZWQ-of-examples-7f3a9e2bXk1vT0pL'
  const prod = { NODE_ENV: 'production', JWT_SECRET: secret, PUBLIC_URL: 'https://chat.example.com', METRICS_TOKEN: 'a-metrics-token-for-the-test' }
  t.throws(() => loadConfig({ ...prod, RATE_LIMITS: 'off' }), /RATE_LIMITS=off is refused/)
  for (const weak of ['x'.repeat(40), 'abababababababababababababababababab', 'changeme-changeme-changeme-changeme-1', 'secret_secret_secret_secret_secret_12']) {
    t.throws(() => loadConfig({ ...prod, JWT_SECRET: weak }), /JWT_SECRET is too weak/, weak.slice(0, 12))
  }
  t.throws(() => loadConfig({ ...prod, PUBLIC_URL: '' }), /PUBLIC_URL must be set/)
  t.throws(() => loadConfig({ ...prod, METRICS_TOKEN: '' }), /METRICS_TOKEN must be set/, '/metrics is never public in production')
  t.throws(() => loadConfig({ ...prod, PUBLIC_URL: 'chat.example.com' }), /PUBLIC_URL/)
  const c = loadConfig(prod)
  t.equal(c.JWT_SECRET, secret)
  t.equal(c.jwtSecretGenerated, false)
})

t.test('empty variables count as unset', async (t) => {
  const c = loadConfig({ MONGODB_URL: '', PORT: '' })
  t.equal(c.MONGODB_URL, undefined)
  t.equal(c.PORT, 3000)
})
