/**
 * Builds the app exactly as production does (buildApp), on the store and
 * broker a test asks for, and closes it when the test ends.
 */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { buildApp, type BuildOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { loggerOptions } from '../src/logging.js'
import { mongoTestUrl, redisTestClient, shardKeyAuditEnv } from './services.js'

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789'

export type StoreKind = 'memory' | 'mongo'

/** The configuration tests run with: production's rate limits included, unless a test turns them off (and says why). */
export function testConfig (env: Record<string, string> = {}): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', JWT_SECRET: TEST_JWT_SECRET, ...shardKeyAuditEnv(), ...env })
}

export interface TestAppOptions {
  store?: StoreKind
  /** 'redis' connects to the run's Redis with a key prefix of this test's own. */
  broker?: 'memory' | 'redis'
  env?: Record<string, string>
  /** Collects every log line (JSON) the app writes. */
  logs?: string[]
  build?: BuildOptions
  /** Reuse this database/prefix instead of making new ones (several nodes of one deployment). */
  mongoUrl?: string
  redisPrefix?: string
}

export interface TestApp {
  app: FastifyInstance
  mongoUrl?: string
  redisPrefix?: string
}

/** Builds an app for `t`; resolves to undefined when the requested server is not provisioned (the test is skipped, or failed in CI). */
export async function buildTestApp (t: Test, opts: TestAppOptions = {}): Promise<TestApp | undefined> {
  const env: Record<string, string> = { ...opts.env }
  let mongoUrl = opts.mongoUrl
  if (opts.store === 'mongo' && mongoUrl === undefined) {
    mongoUrl = mongoTestUrl(t)
    if (mongoUrl === undefined) return undefined
  }
  if (mongoUrl !== undefined) env.MONGODB_URL = mongoUrl
  let redisPrefix = opts.redisPrefix
  if (opts.broker === 'redis') {
    const redis = redisTestClient(t)
    if (redis === undefined) return undefined
    env.REDIS_URL = redis.url
    redisPrefix ??= redis.prefix
  }
  const build: BuildOptions = { ...opts.build }
  if (opts.logs !== undefined) {
    const logs = opts.logs
    const stream = new Writable({ write (chunk, _enc, done) { logs.push(...String(chunk).split('\n').filter(Boolean)); done() } })
    // The production logger options, writing to this stream: the test checks what production would log.
    build.logger = { ...(loggerOptions('trace') as object), stream }
  }
  if (redisPrefix !== undefined) build.broker = { ...build.broker, redisPrefix }
  const app = await buildApp(testConfig(env), build)
  t.teardown(() => app.close())
  return { app, ...(mongoUrl !== undefined && { mongoUrl }), ...(redisPrefix !== undefined && { redisPrefix }) }
}

/** Runs `fn` once per store adapter, each as its own subtest on a fresh app. */
export function forEachStore (t: Test, name: string, fn: (t: Test, app: FastifyInstance, store: StoreKind) => Promise<void>, opts: Omit<TestAppOptions, 'store'> = {}): void {
  for (const store of ['memory', 'mongo'] as const) {
    t.test(`${name} [${store}]`, async (t) => {
      const built = await buildTestApp(t, { ...opts, store })
      if (built !== undefined) await fn(t, built.app, store)
    })
  }
}

let counter = 0
/**
 * A client address no other registration in this process used (in the
 * benchmarking range, 198.18.0.0/15; inject sends nothing on a network):
 * users register from addresses of their own, as they would, so the
 * per-address registration limit holds in tests as in production.
 */
export function uniqueAddress (): string {
  counter += 1
  return `198.${18 + ((counter >> 16) & 1)}.${(counter >> 8) & 255}.${counter & 255}`
}

/** A username no other test in this run uses. */
export function uniqueName (base = 'user'): string {
  counter += 1
  return `${base}${process.pid % 10000}x${counter}`
}

export interface Registered {
  id: string
  username: string
  email: string
  password: string
  accessToken: string
  refreshToken: string
  auth: { authorization: string }
}

export async function register (app: FastifyInstance, base = 'user'): Promise<Registered> {
  const username = uniqueName(base)
  const email = `${username}@example.com`
  const password = 'correct horse battery'
  const res = await app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: uniqueAddress(), payload: { username, email, password } })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`)
  const body = res.json()
  return { id: body.user.id, username, email, password, accessToken: body.accessToken, refreshToken: body.refreshToken, auth: { authorization: `Bearer ${body.accessToken}` } }
}

export interface Reply {
  status: number
  body: any // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Record<string, unknown>
}

/** A signed-in user's client for inject: `api.post('/v1/…', body)`. */
export function client (app: FastifyInstance, user: Registered) {
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const res = await app.inject({ method, url, headers: { ...user.auth, ...headers }, ...(payload !== undefined && { payload: payload as object }) })
    return { status: res.statusCode, body: res.body === '' ? undefined : res.json(), headers: res.headers }
  }
  return {
    user,
    get: (url: string) => call('GET', url),
    post: (url: string, payload?: unknown, headers?: Record<string, string>) => call('POST', url, payload ?? {}, headers),
    patch: (url: string, payload: unknown) => call('PATCH', url, payload),
    put: (url: string, payload: unknown) => call('PUT', url, payload),
    del: (url: string) => call('DELETE', url)
  }
}

export type Client = ReturnType<typeof client>

/** Registers `n` users and returns their clients. */
export async function users (app: FastifyInstance, n: number, base = 'u'): Promise<Client[]> {
  const out: Client[] = []
  for (let i = 0; i < n; i++) out.push(client(app, await register(app, base)))
  return out
}
