#!/usr/bin/env node
/**
 * The test command (`npm test`). It provisions what the suites need, runs
 * every test file with tap, and refuses a run in which the MongoDB or Redis
 * suites did not run.
 *
 *   Redis:   REDIS_URL if set; else 127.0.0.1:6379 if it answers; else a
 *            redis-server of our own on a free port (the Debian package is
 *            installed when missing).
 *   MongoDB: MONGODB_URL if set; else our FerretDB 1.x harness
 *            (test/ferretdb), built with `go build` into .cache/ and started
 *            on a free port, on the local PostgreSQL (or SQLite when
 *            PostgreSQL does not answer).
 *
 * Extra arguments go to tap (for example a single test file).
 * A summary is written to .cache/test-summary.json for .ci/run.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cache = join(root, '.cache')
const children = []
const REQUIRED_SUITES = ['store-mongo', 'broker-redis']

const log = (msg) => console.log(`[test] ${msg}`)

function freePort () {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** Sends `request` to host:port and resolves with the first chunk of the answer, or null. */
function probe (host, port, request, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port })
    const done = (value) => { sock.destroy(); resolve(value) }
    sock.setTimeout(timeoutMs, () => done(null))
    sock.on('error', () => done(null))
    sock.on('connect', () => { if (request) sock.write(request); else done('') })
    sock.on('data', (d) => done(d.toString()))
  })
}

const redisAnswers = async (port) => (await probe('127.0.0.1', port, 'PING\r\n'))?.startsWith('+PONG') === true

function which (cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null
}

function run (cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`)
}

async function waitFor (check, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`)
}

async function provisionRedis () {
  if (process.env.REDIS_URL) {
    log(`redis: using REDIS_URL`)
    return process.env.REDIS_URL
  }
  if (await redisAnswers(6379)) {
    log('redis: using the server at 127.0.0.1:6379')
    return 'redis://127.0.0.1:6379'
  }
  if (!which('redis-server')) {
    log('redis: redis-server missing; installing the Debian package')
    run('apt-get', ['update', '-qq'])
    run('apt-get', ['install', '-y', '-qq', 'redis-server'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  }
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  children.push(child)
  await waitFor(() => redisAnswers(port), 'redis-server', 10_000)
  log(`redis: started redis-server on 127.0.0.1:${port}`)
  return `redis://127.0.0.1:${port}`
}

/** Builds the harness unless a build from the same inputs and tags exists. */
function buildFerretHarness (tags) {
  const src = join(root, 'test', 'ferretdb')
  const hash = createHash('sha256')
  for (const f of ['main.go', 'go.mod', 'go.sum']) hash.update(readFileSync(join(src, f)))
  hash.update(tags.join(','))
  const digest = hash.digest('hex').slice(0, 16)
  const bin = join(cache, `ferretdb-harness-${digest}`)
  if (existsSync(bin)) return bin
  if (!which('go')) throw new Error('go is not on PATH: it is needed to build the FerretDB harness (or set MONGODB_URL)')
  log(`mongo: building the FerretDB harness (tags: ${tags.join(',') || 'none'}); the first build takes a few minutes`)
  mkdirSync(cache, { recursive: true })
  run('go', ['build', '-buildvcs=false', ...(tags.length ? ['-tags', tags.join(',')] : []), '-o', bin, '.'], { cwd: src })
  return bin
}

async function provisionMongo () {
  if (process.env.MONGODB_URL) {
    log('mongo: using MONGODB_URL')
    return process.env.MONGODB_URL
  }
  const pgUp = (await probe('127.0.0.1', 5432, null)) !== null
  const args = []
  let bin
  if (pgUp) {
    bin = buildFerretHarness(['ferretdb_no_sqlite'])
    const pgUser = process.env.PGUSER || 'postgres'
    args.push('-handler', 'postgresql', '-postgresql-url', `postgres://${pgUser}@127.0.0.1:5432/chat_test_ferretdb`)
  } else {
    log('mongo: PostgreSQL does not answer on 127.0.0.1:5432; using the SQLite backend')
    bin = buildFerretHarness([])
    const dir = mkdtempSync(join(tmpdir(), 'ferretdb-sqlite-'))
    args.push('-handler', 'sqlite', '-sqlite-url', `file:${dir}/`)
  }
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const stderr = []
  child.stderr.on('data', (d) => { stderr.push(d); if (stderr.length > 200) stderr.shift() })
  const url = await new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error('FerretDB harness did not become ready in 60 s')), 60_000)
    child.stdout.on('data', (d) => {
      out += d
      const m = /READY (\S+)/.exec(out)
      if (m) { clearTimeout(timer); resolve(m[1]) }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`FerretDB harness exited with ${code}:\n${Buffer.concat(stderr).toString().slice(-2000)}`))
    })
  })
  log(`mongo: FerretDB 1.24.2 (${pgUp ? 'PostgreSQL' : 'SQLite'} backend) at ${url}`)
  return url
}

function stopChildren () {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
}

function parseTapTotals (output) {
  const line = output.split('\n').reverse().find((l) => /^# \{ total: \d+/.test(l))
  const get = (k) => Number(new RegExp(`${k}: (\\d+)`).exec(line ?? '')?.[1] ?? 0)
  return { total: get('total'), pass: get('pass'), fail: get('fail'), skip: get('skip'), todo: get('todo') }
}

async function main () {
  // One after the other: the harness build (spawnSync) would stall the Redis probe's timers.
  const redisUrl = await provisionRedis()
  const mongoUrl = await provisionMongo()
  const markers = mkdtempSync(join(tmpdir(), 'chat-test-markers-'))
  const tapArgs = process.argv.slice(2)
  const env = { ...process.env, TEST_REDIS_URL: redisUrl, TEST_MONGODB_URL: mongoUrl, TEST_MARKER_DIR: markers }
  // The app under test must not pick these up from the developer's shell.
  delete env.MONGODB_URL
  delete env.REDIS_URL

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

  const failed = totals.fail + missing.length + (code !== 0 && totals.fail === 0 ? 1 : 0)
  const summary = { passed: totals.pass, failed, skipped: totals.skip, tapExitCode: code, suitesRan: ran, missingSuites: missing }
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
