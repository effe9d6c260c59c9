/**
 * A cluster of real processes for one fault test: a Redis and a FerretDB of
 * its own (so that stopping them disturbs no other test file) and two server
 * nodes, with reliable clients spread over both.
 */
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { FerretProcess, NodeProcess, RedisClusterProcess, RedisProcess, stopAll, type Restartable } from '../../bench/lib/cluster.js'
import { Workload, type Verdict } from '../../bench/lib/workload.js'
import { which } from '../../scripts/services.mjs'
import { markSuiteRan } from '../services.js'

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Fast heartbeats and leases, and database operations that give up quickly while it is away. */
export const FAULT_ENV = {
  WS_HEARTBEAT_MS: '500',
  PRESENCE_TTL_MS: '1500',
  RECEIPT_FLUSH_MS: '30',
  MONGODB_TIMEOUT_MS: '1500',
  ACCESS_TOKEN_TTL_SECONDS: '3600',
  LOG_LEVEL: process.env.FAULT_LOG_LEVEL ?? 'warn'
}

export interface Cluster {
  redis: RedisProcess
  db: FerretProcess
  nodes: NodeProcess[]
  urls: string[]
}

/** Why the fault suites cannot run here, if they cannot: the test is then skipped outside npm test, failed under CI=true. */
function cannotRun (t: Test): boolean {
  const missing = process.env.TEST_FERRETDB_BIN === undefined ? 'TEST_FERRETDB_BIN is not set (run the suite with npm test)' : which('redis-server') === null ? 'redis-server is not installed' : undefined
  if (missing === undefined) return false
  if (process.env.CI === 'true') t.fail(`fault suite cannot run in CI: ${missing}`)
  else void t.test('fault suite', { skip: missing }, () => {})
  return true
}

/** A FerretDB of the test's own and two server nodes on it, joined by the Redis that `redisEnv` names; all stopped when the test ends. */
async function startNodes (t: Test, label: string, redis: Restartable, redisEnv: Record<string, string>, extraEnv: Record<string, string>) {
  const database = `chat_fault_${label}_${randomBytes(4).toString('hex')}`
  const db = await FerretProcess.start(database)
  const served = [database]
  const nodes: NodeProcess[] = []
  t.teardown(async () => {
    await stopAll([...nodes, redis, db])
    await db.dropDatabases([...served, db.database])
  })
  const env = { ...FAULT_ENV, MONGODB_URL: db.url, MONGODB_DB: 'chat', ...redisEnv, ...extraEnv }
  for (const name of ['a', 'b']) nodes.push(await NodeProcess.start(`node-${name}`, env))
  return { db, nodes, urls: nodes.map((n) => n.baseUrl) }
}

/** Starts the cluster, or ends the test: skipped outside npm test, failed under CI=true. */
export async function startCluster (t: Test, label: string, extraEnv: Record<string, string> = {}): Promise<Cluster | undefined> {
  if (cannotRun(t)) return undefined
  const redis = await RedisProcess.start()
  return { redis, ...await startNodes(t, label, redis, { REDIS_URL: redis.url }, extraEnv) }
}

/** The same two nodes on a Redis Cluster of the test's own (six processes), which the test may kill nodes of. */
export async function startClusterOnRedisCluster (t: Test, label: string, extraEnv: Record<string, string> = {}): Promise<(Omit<Cluster, 'redis'> & { redis: RedisClusterProcess }) | undefined> {
  if (cannotRun(t)) return undefined
  const redis = await RedisClusterProcess.start()
  return { redis, ...await startNodes(t, label, redis, { REDIS_CLUSTER_NODES: redis.seeds }, extraEnv) }
}

/**
 * A cluster with reliable traffic ready to run: six users with two devices
 * each over both nodes, a fifth of the traffic edits and deletions of
 * messages sent before. Marks `suite` as run when the test passes.
 */
export async function clusterWithTraffic (t: Test, label: string, suite: string): Promise<{ cluster: Cluster, w: Workload } | undefined> {
  const cluster = await startCluster(t, label)
  if (cluster === undefined) return undefined
  markSuiteRan(t, suite)
  const w = await Workload.create({ urls: cluster.urls, users: 6, devicesPerUser: 2, prefix: label, changes: 0.2 })
  t.teardown(() => w.close())
  return { cluster, w }
}

/** What every fault test asserts at the end: all acked, nothing lost, nothing twice, no device showing an edited or deleted message as it was. */
export function assertVerdict (t: Test, v: Verdict): void {
  t.comment(JSON.stringify({ ...v, problems: v.problems.slice(0, 10) }))
  t.ok(v.acked > 0, `${v.acked} of ${v.attempted} sends acknowledged`)
  t.equal(v.unacked, 0, 'every send was acknowledged in the end (resent after reconnects)')
  t.equal(v.refused, 0, 'no send was refused for good')
  t.equal(v.lost, 0, `nothing acknowledged was lost: ${v.problems.slice(0, 5).join('; ')}`)
  t.equal(v.duplicated, 0, 'nothing was stored or delivered twice')
  t.ok(v.changes > 0, `${v.changes} edits and deletions`)
  t.equal(v.stale, 0, `every device shows every message as history has it: ${v.problems.slice(0, 5).join('; ')}`)
}

export { Workload }
