import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { clusterSeeds } from '../src/redis.js'
import { readConcernOf } from '../src/store/index.js'

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

t.test('Redis: one Redis or a cluster, never both; cluster seeds as host:port or URLs', async (t) => {
  t.throws(() => loadConfig({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' }), /set REDIS_URL \(one Redis\) or REDIS_CLUSTER_NODES \(a Redis Cluster\), not both/)
  for (const bad of ['b', 'b:', ':7000', 'b:7000,', 'http://b:7000', 'b:7000 c:7001']) t.throws(() => loadConfig({ REDIS_CLUSTER_NODES: bad }), /REDIS_CLUSTER_NODES/, bad)
  t.equal(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,redis://10.0.0.2:7001' }).REDIS_CLUSTER_NODES, '10.0.0.1:7000,redis://10.0.0.2:7001')
  t.same(clusterSeeds('10.0.0.1:7000,redis://10.0.0.2:7001'), { nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }], redisOptions: {} })
  t.same(clusterSeeds('rediss://app:s%40cret@r1.example:7000,r2.example:7000'), { nodes: [{ host: 'r1.example', port: 7000 }, { host: 'r2.example', port: 7000 }], redisOptions: { password: 's@cret', username: 'app', tls: {} } }, 'credentials and TLS from the URL, for every node')
})

t.test('MongoDB concerns: majority writes; the read concern majority on replica sets unless told', async (t) => {
  t.equal(loadConfig({}).MONGODB_WRITE_CONCERN, 'majority')
  t.throws(() => loadConfig({ MONGODB_WRITE_CONCERN: 'all' }), /MONGODB_WRITE_CONCERN/)
  t.throws(() => loadConfig({ MONGODB_READ_CONCERN: 'snapshot' }), /MONGODB_READ_CONCERN/)
  t.equal(readConcernOf('mongodb://db:27017/chat', 'auto'), 'local', 'one server')
  t.equal(readConcernOf('mongodb://a,b,c/chat?replicaSet=rs0', 'auto'), 'majority', 'a replica set')
  t.equal(readConcernOf('mongodb+srv://cluster.example/chat', undefined), 'majority', 'SRV: a replica set')
  t.equal(readConcernOf('mongodb://a,b,c/chat?replicaSet=rs0', 'local'), 'local', 'as told')
})
