/**
 * Starting the servers the tests, the soak and the benchmarks run against:
 * Redis and our FerretDB 1.x harness (test/ferretdb). Plain JavaScript so
 * that scripts/test.mjs runs before anything is compiled.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cache = join(root, '.cache')

export function freePort () {
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
export function probe (host, port, request, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port })
    const done = (value) => { sock.destroy(); resolve(value) }
    sock.setTimeout(timeoutMs, () => done(null))
    sock.on('error', () => done(null))
    sock.on('connect', () => { if (request) sock.write(request); else done('') })
    sock.on('data', (d) => done(d.toString()))
  })
}

export const redisAnswers = async (port) => (await probe('127.0.0.1', port, 'PING\r\n'))?.startsWith('+PONG') === true

export function which (cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null
}

export function run (cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`)
}

export async function waitFor (check, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`)
}

/** Installs Debian packages (apt-get update, then install); `lean`: without their recommended packages. */
export function aptInstall (packages, { lean = false } = {}) {
  run('apt-get', ['update', '-qq'])
  run('apt-get', ['install', '-y', '-qq', ...(lean ? ['--no-install-recommends'] : []), ...packages], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}

/** Installs Debian's redis-server when it is missing. */
export function ensureRedisServer (log = console.log) {
  if (which('redis-server')) return
  log('redis: redis-server missing; installing the Debian package')
  aptInstall(['redis-server'])
}

/** Installs Debian's nginx (for the test of the shipped nginx config) when it is missing. */
export function ensureNginx (log = console.log) {
  if (which('nginx') || existsSync('/usr/sbin/nginx')) return
  log('nginx: missing; installing the Debian package')
  aptInstall(['nginx'], { lean: true })
}

/** Installs Debian's prometheus package (prometheus and promtool, for the alert suites) when it is missing. */
export function ensurePrometheus (log = console.log) {
  if (which('promtool') && which('prometheus')) return
  log('alerts: prometheus missing; installing the Debian package')
  aptInstall(['prometheus'], { lean: true })
}

/** Installs Debian's chromium (for the browser suite) when it is missing. */
export function ensureChromium (log = console.log) {
  if (existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) return
  log('browser: chromium missing; installing the Debian package')
  aptInstall(['chromium'])
}

/** Arguments for a redis-server that keeps nothing on disk. */
export const redisArgs = (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']

/** Resolves true when 127.0.0.1:port can be listened on. */
function portFree (port) {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

/** A free port for a cluster node: below 55536, with its bus port (port + 10000) free too. */
export async function freeClusterPort (taken = new Set()) {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 25000)
    if (taken.has(port) || taken.has(port + 10000) || taken.has(port - 10000)) continue
    if (await portFree(port) && await portFree(port + 10000)) return port
  }
}

/**
 * Arguments for one node of a Redis Cluster that keeps nothing on disk but
 * its nodes.conf (in dir). A master is failed over after nodeTimeoutMs.
 */
export const redisClusterArgs = (port, dir, nodeTimeoutMs = 1000) => [
  ...redisArgs(port), '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
  '--cluster-node-timeout', String(nodeTimeoutMs), '--dir', dir
]

/** `redis-cli -p port ...args`, its output. */
export function redisCli (port, ...args) {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(`redis-cli -p ${port} ${args.join(' ')}: ${r.stderr || r.stdout}`)
  return r.stdout
}

/** True when every node says the cluster is ok, `masters` masters have a replica each, and every replica is in sync. */
export function clusterHealthy (ports, masters = 3) {
  try {
    for (const port of ports) {
      if (!/cluster_state:ok/.test(redisCli(port, 'cluster', 'info'))) return false
      const replication = redisCli(port, 'info', 'replication')
      if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return false
    }
    const nodes = redisCli(ports[0], 'cluster', 'nodes').split('\n').filter((l) => l.trim() !== '')
    const live = nodes.filter((l) => !/fail/.test(l.split(' ')[2] ?? ''))
    return live.filter((l) => / master /.test(` ${(l.split(' ')[2] ?? '').replace(/,/g, ' ')} `)).length === masters &&
      live.filter((l) => /slave/.test(l.split(' ')[2] ?? '')).length === masters
  } catch {
    return false
  }
}

/**
 * A Redis Cluster of `masters` masters with a replica each, on free ports:
 * redis-server processes with cluster mode on, joined by `redis-cli
 * --cluster create`. Resolves when every node agrees the cluster is ok.
 * The caller stops the processes (children) when done.
 */
export async function startRedisCluster ({ masters = 3, nodeTimeoutMs = 1000, log = () => {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'))
  const taken = new Set()
  const ports = []
  for (let i = 0; i < masters * 2; i++) {
    const port = await freeClusterPort(taken)
    taken.add(port)
    ports.push(port)
  }
  const children = ports.map((port) => spawn('redis-server', redisClusterArgs(port, dir, nodeTimeoutMs), { stdio: 'ignore' }))
  try {
    for (const port of ports) await waitFor(() => redisAnswers(port), `redis-server (cluster node) on ${port}`, 10_000)
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 })
    if (create.status !== 0) throw new Error(`redis-cli --cluster create: ${create.stdout.slice(-500)}${create.stderr}`)
    await waitFor(() => clusterHealthy(ports, masters), 'the Redis Cluster', 30_000)
  } catch (err) {
    for (const c of children) c.kill('SIGKILL')
    throw err
  }
  log(`redis cluster: ${masters} masters and ${masters} replicas on ${ports.join(', ')}`)
  return { ports, dir, children, seeds: ports.map((p) => `127.0.0.1:${p}`).join(',') }
}

/** Builds the harness unless a build from the same inputs and tags exists; returns the binary. */
export function buildFerretHarness (tags, log = console.log) {
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

/**
 * The harness binary and its backend: PostgreSQL on 127.0.0.1:5432 when it
 * answers, else SQLite. `argsFor(name)` gives the arguments for a database of
 * that name (a PostgreSQL database, or a directory), so that several harness
 * processes keep apart and one restarted with the same name finds its data.
 */
export async function ferretHarness (log = console.log) {
  const pgUp = (await probe('127.0.0.1', 5432, null)) !== null
  if (!pgUp) log('mongo: PostgreSQL does not answer on 127.0.0.1:5432; using the SQLite backend')
  const backend = pgUp ? 'postgresql' : 'sqlite'
  const bin = buildFerretHarness(pgUp ? ['ferretdb_no_sqlite'] : [], log)
  const sqliteBase = pgUp ? '' : mkdtempSync(join(tmpdir(), 'ferretdb-sqlite-'))
  return { bin, backend, argsFor: (name) => ferretArgs(backend, name, sqliteBase) }
}

/** Harness arguments for the database `name` on a backend (SQLite keeps it in a directory under sqliteBase). */
export function ferretArgs (backend, name, sqliteBase) {
  if (backend === 'postgresql') {
    const pgUser = process.env.PGUSER || 'postgres'
    return ['-handler', 'postgresql', '-postgresql-url', `postgres://${pgUser}@127.0.0.1:5432/${name}`]
  }
  const dir = join(sqliteBase, name)
  mkdirSync(dir, { recursive: true })
  return ['-handler', 'sqlite', '-sqlite-url', `file:${dir}/`]
}

/** Starts the harness; resolves with its mongodb:// URL and the child once it prints READY. */
export function startFerretHarness (bin, args, timeoutMs = 60_000) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const stderr = []
  child.stderr.on('data', (d) => { stderr.push(d); if (stderr.length > 200) stderr.shift() })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`FerretDB harness did not become ready in ${timeoutMs} ms`)) }, timeoutMs)
    const onExit = (code) => {
      clearTimeout(timer)
      reject(new Error(`FerretDB harness exited with ${code}:\n${Buffer.concat(stderr).toString().slice(-2000)}`))
    }
    child.on('exit', onExit)
    child.stdout.on('data', (d) => {
      out += d
      const m = /READY (\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        child.off('exit', onExit)
        child.stdout.resume()
        resolve({ url: m[1], child })
      }
    })
  })
}
