/**
 * The real entry point, as `npm start` runs it: a child process from the
 * environment alone.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'

const SERVER = new URL('../src/server.ts', import.meta.url).pathname

interface Started {
  child: ChildProcess
  lines: string[]
  baseUrl: string
}

function start (env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const lines: string[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listen line in 20 s:\n${lines.join('\n')}`)), 20_000)
    const onData = (d: Buffer) => {
      for (const line of String(d).split('\n').filter(Boolean)) {
        lines.push(line)
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
        if (m !== null) { clearTimeout(timer); resolve({ child, lines, baseUrl: m[1]! }) }
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${lines.join('\n')}`)) })
  })
}

async function stop (s: Started): Promise<number | null> {
  if (s.child.exitCode !== null) return s.child.exitCode
  s.child.removeAllListeners('exit')
  s.child.kill('SIGTERM')
  const [code] = await once(s.child, 'exit')
  return code as number | null
}

t.test('with no environment: serves on the memory adapters and warns once that nothing is durable', async (t) => {
  const s = await start({})
  t.teardown(() => stop(s))
  const ready = await fetch(`${s.baseUrl}/health/ready`)
  t.equal(ready.status, 200)
  const doc = await (await fetch(`${s.baseUrl}/docs/json`)).json() as { openapi: string }
  t.match(doc.openapi, /^3\./)
  const warnings = s.lines.filter((l) => l.includes('nothing is durable'))
  t.equal(warnings.length, 1, 'one clear warning')
  t.match(warnings[0], /single node/)
  t.equal(await stop(s), 0, 'SIGTERM shuts down cleanly')
  t.ok(s.lines.some((l) => l.includes('shutting down')))
})

t.test('PORT=abc exits non-zero with a message naming PORT', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], { env: { PATH: process.env.PATH ?? '', PORT: 'abc' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { out += d })
  const [code] = await once(child, 'exit')
  t.not(code, 0)
  t.match(out, /PORT must be integer/)
})

t.test('NODE_ENV=production without JWT_SECRET refuses to start', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], { env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stderr.on('data', (d) => { out += d })
  const [code] = await once(child, 'exit')
  t.not(code, 0)
  t.match(out, /JWT_SECRET must be set/)
})

t.test('with MONGODB_URL and REDIS_URL: uses them and says so', async (t) => {
  const mongo = process.env.TEST_MONGODB_URL
  const redis = process.env.TEST_REDIS_URL
  if (!mongo || !redis) {
    if (process.env.CI === 'true') t.fail('TEST_MONGODB_URL and TEST_REDIS_URL are required in CI')
    return
  }
  const db = new URL(mongo)
  db.pathname = `/t_server_${process.pid}`
  const s = await start({ MONGODB_URL: db.toString(), REDIS_URL: redis, JWT_SECRET: 'y'.repeat(40) })
  t.teardown(async () => {
    await stop(s)
    const { MongoClient } = await import('mongodb')
    const c = new MongoClient(mongo)
    await c.db(`t_server_${process.pid}`).dropDatabase().catch(() => {})
    await c.close()
  })
  t.ok(s.lines.some((l) => l.includes('store: MongoDB (MONGODB_URL); broker: Redis (REDIS_URL)')))
  t.notOk(s.lines.some((l) => l.includes('nothing is durable')))
  const ready = await (await fetch(`${s.baseUrl}/health/ready`)).json()
  t.match(ready, { status: 'ready', checks: { store: { kind: 'mongo', status: 'up' }, broker: { kind: 'redis', status: 'up' } } })
})

t.test('the README walk-through works as written against the started server', async (t) => {
  const s = await start({})
  t.teardown(() => stop(s))
  const walk = spawn(process.execPath, [new URL('../scripts/walkthrough.mjs', import.meta.url).pathname, s.baseUrl], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  walk.stdout.on('data', (d) => { out += d })
  walk.stderr.on('data', (d) => { out += d })
  const [code] = await once(walk, 'exit')
  t.equal(code, 0, code === 0 ? 'exit 0' : out)
  t.match(out, /walk-through complete/)
})

t.test('SIGTERM: in-flight requests finish, sockets are closed with 1012, and the process exits within the grace period', async (t) => {
  const s = await start({ SHUTDOWN_GRACE_MS: '5000', JWT_SECRET: 'z'.repeat(40) })
  t.teardown(() => stop(s))
  const reg = await fetch(`${s.baseUrl}/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'leaving', email: 'leaving@example.com', password: 'password123' }) })
  const { accessToken } = await reg.json() as { accessToken: string }
  const { WsClient } = await import('./ws-client.js')
  const ws = await WsClient.connect(s.baseUrl, accessToken)
  await ws.roundTrip()
  // A registration spends ~100 ms in scrypt: still in flight when the signal arrives.
  const inFlight = fetch(`${s.baseUrl}/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'latecomer', email: 'latecomer@example.com', password: 'password123' }) })
  await new Promise((r) => setTimeout(r, 30))
  const began = Date.now()
  s.child.removeAllListeners('exit')
  s.child.kill('SIGTERM')
  t.equal((await inFlight).status, 201, 'the in-flight request was answered')
  const closed = await ws.waitClosed()
  t.equal(closed.code, 1012, 'service restart: reconnect elsewhere')
  const [code] = await once(s.child, 'exit')
  t.equal(code, 0)
  t.ok(Date.now() - began < 5000, `exited after ${Date.now() - began} ms`)
})
