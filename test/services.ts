/**
 * Where the test run's servers are. scripts/test.mjs provisions Redis and a
 * MongoDB-compatible server and passes them in TEST_REDIS_URL and
 * TEST_MONGODB_URL. Each test file gets its own database and key prefix.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { MongoClient } from 'mongodb'
import { Cluster, Redis } from 'ioredis'
import { clusterSeeds } from '../src/redis.js'
import { which } from '../scripts/services.mjs'
import type { MongoStoreOptions } from '../src/store/mongo/index.js'
import type { Test } from 'tap'

const env = process.env

function unique (t: Test, label: string): string {
  const file = basename(t.fullname.split(' ')[0] ?? 'test').replace(/\W+/g, '_').slice(0, 30)
  return `${label}_${file}_${randomBytes(4).toString('hex')}`
}

/**
 * Returns the URL of the run's server for `service`, or ends the test: skipped
 * when run outside the test command, failed under CI=true, where nothing may be skipped.
 */
function serviceUrl (t: Test, service: 'mongo' | 'redis' | 'redis cluster'): string | undefined {
  const name = { mongo: 'TEST_MONGODB_URL', redis: 'TEST_REDIS_URL', 'redis cluster': 'TEST_REDIS_CLUSTER_NODES' }[service]
  const url = env[name]
  if (url !== undefined && url !== '') return url
  const why = `${name} is not set (run the suite with npm test)`
  if (env.CI === 'true') t.fail(`${service} suite cannot run in CI: ${why}`)
  else void t.test(`${service} suite`, { skip: why }, () => {})
  return undefined
}

/**
 * The path of a program a suite needs (`command`, else one of `paths`), or
 * undefined and the test ends: skipped outside CI, failed under CI=true.
 * `pkg`: the Debian package that brings it (the test command installs it).
 */
export function requireTool (t: Test, command: string, pkg: string, paths: string[] = []): string | undefined {
  const found = which(command) ?? paths.find((p) => existsSync(p))
  if (found !== undefined && found !== null) return found
  if (env.CI === 'true') t.fail(`${command} is not installed (Debian's ${pkg} package)`)
  else void t.test(command, { skip: `${command} is not installed (apt-get install ${pkg})` }, () => {})
  return undefined
}

/** MONGODB_SHARD_KEY_AUDIT for an app under test: the run's audit of shard keys (scripts/test.mjs), when it runs one. */
export function shardKeyAuditEnv (): { MONGODB_SHARD_KEY_AUDIT?: string } {
  const dir = env.TEST_SHARD_KEY_AUDIT
  return dir !== undefined && dir !== '' ? { MONGODB_SHARD_KEY_AUDIT: dir } : {}
}

/** The options of a mongo store a test opens itself on `url`, in the run's shard-key audit. */
export function testMongoOptions (url: string): MongoStoreOptions {
  const audit = shardKeyAuditEnv().MONGODB_SHARD_KEY_AUDIT
  return { url, dbName: 'unused', poolSize: 10, serverSelectionTimeoutMs: 5000, ...(audit !== undefined && { shardKeyAudit: audit }) }
}

/** A MongoDB URL naming a database of this test's own, dropped when the test ends. */
export function mongoTestUrl (t: Test): string | undefined {
  const base = serviceUrl(t, 'mongo')
  if (base === undefined) return undefined
  const dbName = unique(t, 't')
  const url = new URL(base)
  url.pathname = `/${dbName}`
  t.teardown(async () => {
    const client = new MongoClient(base, { serverSelectionTimeoutMS: 5000 })
    try {
      await client.db(dbName).dropDatabase()
    } finally {
      await client.close()
    }
  })
  return url.toString()
}

/** A Redis connection for this test and a key prefix of its own; closed when the test ends. */
export function redisTestClient (t: Test): { client: Redis, prefix: string, url: string } | undefined {
  const url = serviceUrl(t, 'redis')
  if (url === undefined) return undefined
  const client = new Redis(url, { maxRetriesPerRequest: 2 })
  const prefix = `${unique(t, 'r')}:`
  t.teardown(async () => {
    // Best effort: the keys are this test's alone, and a failed cleanup must not fail the test.
    try {
      const keys = await client.keys(`${prefix}*`)
      if (keys.length > 0) await client.del(...keys)
    } catch (err) {
      console.error(`redis cleanup of ${prefix} failed: ${(err as Error).message}`)
    }
    client.disconnect()
  })
  return { client, prefix, url }
}

/**
 * Two Redis connections with this test's prefix, as two server nodes would
 * each have their own, both ready (a node serves once its connection is).
 */
export async function redisTestPair (t: Test): Promise<{ clients: [Redis, Redis], prefix: string } | undefined> {
  const redis = redisTestClient(t)
  if (redis === undefined) return undefined
  const other = redis.client.duplicate()
  t.teardown(() => other.disconnect())
  for (const c of [redis.client, other]) if (c.status !== 'ready') await new Promise((resolve) => c.once('ready', resolve))
  return { clients: [redis.client, other], prefix: redis.prefix }
}

/**
 * A client of the run's Redis Cluster (TEST_REDIS_CLUSTER_NODES) and a key
 * prefix of this test's own, ready; its keys are deleted (on every master)
 * and the client closed when the test ends.
 */
export async function redisClusterTestClient (t: Test): Promise<{ client: Cluster, prefix: string, seeds: string } | undefined> {
  const seeds = serviceUrl(t, 'redis cluster')
  if (seeds === undefined) return undefined
  const { nodes, redisOptions } = clusterSeeds(seeds)
  const client = new Cluster(nodes, { redisOptions: { ...redisOptions, maxRetriesPerRequest: 2 } })
  client.on('error', () => {})
  const prefix = `${unique(t, 'c')}:`
  t.teardown(async () => {
    try {
      for (const master of client.nodes('master')) {
        const keys = await master.keys(`${prefix}*`)
        for (const key of keys) await client.del(key)
      }
    } catch (err) {
      console.error(`redis cluster cleanup of ${prefix} failed: ${(err as Error).message}`)
    }
    client.disconnect()
  })
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve))
  return { client, prefix, seeds }
}

/** Two cluster clients with this test's prefix, as two server nodes would each have their own, both ready. */
export async function redisClusterTestPair (t: Test): Promise<{ clients: [Cluster, Cluster], prefix: string } | undefined> {
  const first = await redisClusterTestClient(t)
  if (first === undefined) return undefined
  const other = new Cluster(clusterSeeds(first.seeds).nodes, { redisOptions: { maxRetriesPerRequest: 2 } })
  other.on('error', () => {})
  t.teardown(() => other.disconnect())
  if (other.status !== 'ready') await new Promise((resolve) => other.once('ready', resolve))
  return { clients: [first.client, other], prefix: first.prefix }
}

/** A client of a Redis that is not there (port 9, discard): every command fails at once. Closed when the test ends. */
export function unreachableRedis (t: Test): Redis {
  const client = new Redis('redis://127.0.0.1:9', { maxRetriesPerRequest: 0, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  return client
}

/**
 * Records that a suite against a real server ran to its end, so the test
 * command can refuse a run in which the mongo or redis suites did not run.
 */
export function markSuiteRan (t: Test, suite: string): void {
  const dir = env.TEST_MARKER_DIR
  if (dir === undefined || dir === '') return
  t.teardown(() => {
    if (t.passing()) {
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, suite), new Date().toISOString())
    }
  })
}
