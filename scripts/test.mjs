#!/usr/bin/env node
/**
 * The test command (`npm test`). It provisions what the suites need, runs
 * every test file with tap, and refuses a run in which the MongoDB, Redis or
 * Redis Cluster suites did not run.
 *
 *   Redis:   REDIS_URL if set; else 127.0.0.1:6379 if it answers; else a
 *            redis-server of our own on a free port (the Debian package is
 *            installed when missing).
 *   Redis Cluster: REDIS_CLUSTER_NODES if set; else six redis-server
 *            processes of our own (3 masters, 3 replicas, free ports below
 *            55536), joined by `redis-cli --cluster create`.
 *   MongoDB: MONGODB_URL if set; else our FerretDB 1.x harness
 *            (test/ferretdb), built with `go build` into .cache/ and started
 *            on a free port, on the local PostgreSQL (or SQLite when
 *            PostgreSQL does not answer).
 *
 * Extra arguments go to tap (for example a single test file).
 * A summary is written to .cache/test-summary.json for .ci/run.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureImageTools } from './image.mjs'
import { ensureChromium, ensureNginx, ensurePrometheus, ensureRedisServer, ferretHarness, freePort, redisAnswers, redisArgs, root, startFerretHarness, startRedisCluster, waitFor } from './services.mjs'

const cache = join(root, '.cache')
const children = []
const REQUIRED_SUITES = ['store-mongo', 'broker-redis', 'presence-redis', 'limits-redis', 'revocations-redis',
  'broker-redis-cluster', 'presence-redis-cluster', 'limits-redis-cluster', 'revocations-redis-cluster', 'faults-redis-cluster', 'promtool', 'alerts-e2e', 'nginx', 'image', 'faults-node', 'faults-redis', 'faults-store', 'faults-outbox', 'browser']

const log = (msg) => console.log(`[test] ${msg}`)

async function provisionRedis () {
  if (process.env.REDIS_URL) {
    log('redis: using REDIS_URL')
    return process.env.REDIS_URL
  }
  if (await redisAnswers(6379)) {
    log('redis: using the server at 127.0.0.1:6379')
    return 'redis://127.0.0.1:6379'
  }
  ensureRedisServer(log)
  const port = await freePort()
  const child = spawn('redis-server', redisArgs(port), { stdio: 'ignore' })
  children.push(child)
  await waitFor(() => redisAnswers(port), 'redis-server', 10_000)
  log(`redis: started redis-server on 127.0.0.1:${port}`)
  return `redis://127.0.0.1:${port}`
}

/** REDIS_CLUSTER_NODES, or a cluster of six redis-server processes of the run's own (3 masters, 3 replicas). */
async function provisionRedisCluster () {
  if (process.env.REDIS_CLUSTER_NODES) {
    log('redis cluster: using REDIS_CLUSTER_NODES')
    return process.env.REDIS_CLUSTER_NODES
  }
  const cluster = await startRedisCluster({ log })
  children.push(...cluster.children)
  return cluster.seeds
}

/** MONGODB_URL, or our harness; also returns the harness for the suites that stop and start databases of their own. */
async function provisionMongo () {
  const harness = await ferretHarness(log)
  if (process.env.MONGODB_URL) {
    log('mongo: using MONGODB_URL')
    return { url: process.env.MONGODB_URL, harness }
  }
  const { url, child } = await startFerretHarness(harness.bin, harness.argsFor('chat_test_ferretdb'))
  children.push(child)
  log(`mongo: FerretDB 1.24.2 (${harness.backend} backend) at ${url}`)
  return { url, harness }
}

function stopChildren () {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
}

/**
 * What the stores of the run reported (src/store/mongo/shard-keys.ts): the
 * commands checked, and each distinct query or update on messages or
 * memberships that lacked conversationId, the shard key.
 */
function shardKeyAudit (dir) {
  let checked = 0
  const problems = new Set()
  for (const f of readdirSync(dir)) {
    const text = readFileSync(join(dir, f), 'utf8')
    if (f.endsWith('.checked')) checked += Number(text) || 0
    else for (const line of text.split('\n')) if (line !== '') problems.add(line)
  }
  return { checked, problems: [...problems].sort() }
}

function parseTapTotals (output) {
  const line = output.split('\n').reverse().find((l) => /^# \{ total: \d+/.test(l))
  const get = (k) => Number(new RegExp(`${k}: (\\d+)`).exec(line ?? '')?.[1] ?? 0)
  return { total: get('total'), pass: get('pass'), fail: get('fail'), skip: get('skip'), todo: get('todo') }
}

async function main () {
  // One after the other: the harness build (spawnSync) would stall the Redis probe's timers.
  const redisUrl = await provisionRedis()
  const redisClusterNodes = await provisionRedisCluster()
  const { url: mongoUrl, harness } = await provisionMongo()
  // The browser suite drives Debian's chromium and loads the demo client's bundle.
  ensureChromium(log)
  // The alert suites run Prometheus' own tools.
  ensurePrometheus(log)
  // The shipped nginx config is run by Debian's nginx; the image is built by Debian's podman.
  ensureNginx(log)
  ensureImageTools(log)
  const web = spawnSync(process.execPath, [join(root, 'scripts', 'build-web.mjs'), '--no-types'], { stdio: 'inherit' })
  if (web.status !== 0) throw new Error('building the demo web client failed')
  const markers = mkdtempSync(join(tmpdir(), 'chat-test-markers-'))
  const shardAudit = mkdtempSync(join(tmpdir(), 'chat-shard-key-audit-'))
  const tapArgs = process.argv.slice(2)
  const env = {
    ...process.env,
    TEST_REDIS_URL: redisUrl,
    TEST_REDIS_CLUSTER_NODES: redisClusterNodes,
    TEST_MONGODB_URL: mongoUrl,
    TEST_MARKER_DIR: markers,
    // Every mongo store the suites open reports queries on messages and memberships without their shard key here.
    TEST_SHARD_KEY_AUDIT: shardAudit,
    // The fault suites start, stop and restart databases of their own with these.
    TEST_FERRETDB_BIN: harness.bin,
    TEST_FERRETDB_BACKEND: harness.backend
  }
  // The app under test must not pick these up from the developer's shell.
  delete env.MONGODB_URL
  delete env.REDIS_URL
  delete env.REDIS_CLUSTER_NODES

  const tap = spawn(process.execPath, [join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'), ...tapArgs], {
    cwd: root, env, stdio: ['ignore', 'pipe', 'inherit']
  })
  let output = ''
  tap.stdout.on('data', (d) => { process.stdout.write(d); output += d; if (output.length > 1e6) output = output.slice(-1e5) })
  const code = await new Promise((resolve) => tap.on('exit', (c) => resolve(c ?? 1)))
  stopChildren()

  const totals = parseTapTotals(output)
  const ran = readdirSync(markers)
  rmSync(markers, { recursive: true, force: true })
  const missing = tapArgs.length === 0 ? REQUIRED_SUITES.filter((s) => !ran.includes(s)) : []
  for (const s of missing) log(`FAIL: the ${s} suite did not run to a passing end`)
  if (ran.length > 0) log(`suites against real servers that ran: ${ran.sort().join(', ')}`)

  const audit = shardKeyAudit(shardAudit)
  rmSync(shardAudit, { recursive: true, force: true })
  const auditFailed = tapArgs.length === 0 ? audit.problems.length + (audit.checked === 0 ? 1 : 0) : audit.problems.length
  if (audit.checked > 0) log(`shard-key audit: ${audit.checked} commands checked, ${audit.problems.length} without their shard key`)
  else if (tapArgs.length === 0) log('FAIL: the shard-key audit saw no command (the mongo suites did not report)')
  for (const p of audit.problems) log(`FAIL: shard key: ${p}`)

  const failed = totals.fail + missing.length + auditFailed + (code !== 0 && totals.fail === 0 ? 1 : 0)
  const summary = { passed: totals.pass, failed, skipped: totals.skip, tapExitCode: code, suitesRan: ran, missingSuites: missing, shardKeyAudit: { checked: audit.checked, problems: audit.problems } }
  mkdirSync(cache, { recursive: true })
  writeFileSync(join(cache, 'test-summary.json'), JSON.stringify(summary, null, 2))
  console.log(`${summary.passed} passed, ${summary.failed} failed${summary.skipped ? `, ${summary.skipped} skipped` : ''}`)
  if (process.env.CI === 'true' && summary.skipped > 0) {
    log('FAIL: tests were skipped under CI=true')
    process.exit(1)
  }
  process.exit(failed > 0 ? 1 : 0)
}

process.on('SIGINT', () => { stopChildren(); process.exit(130) })
process.on('SIGTERM', () => { stopChildren(); process.exit(143) })
main().catch((err) => {
  stopChildren()
  console.error(`[test] ${err.stack ?? err}`)
  process.exit(1)
})
