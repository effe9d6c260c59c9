/**
 * The shipped nginx config (deploy/nginx/nginx.conf) run by Debian's nginx
 * in front of two real nodes (its upstreams.conf written for their ports,
 * as the compose file mounts its own): TLS ends there, plain HTTP
 * redirects, REST and websocket upgrades pass and reach both nodes, a socket
 * through nginx gets what is sent through either node, and a client-chosen
 * X-Forwarded-For does not change the address the limits see.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { WebSocket } from 'ws'
import { freePort, probe, root, waitFor } from '../../scripts/services.mjs'
import { certificate } from '../certificate.js'
import { markSuiteRan, requireTool } from '../services.js'
import { startCluster } from '../faults/cluster.js'

/** An HTTPS request trusting only `ca`: its status, headers and JSON body. */
function https (url: string, ca: Buffer, options: { method?: string, body?: unknown, headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number, body: Record<string, unknown> }>((resolve, reject) => {
    const data = options.body === undefined ? undefined : JSON.stringify(options.body)
    const req = request(url, { method: options.method ?? 'GET', ca, agent: false, headers: { ...(data !== undefined && { 'content-type': 'application/json' }), ...options.headers } }, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : JSON.parse(text) as Record<string, unknown> }))
    })
    req.on('error', reject)
    req.end(data)
  })
}

const registrations = async (node: string) => {
  const text = await (await fetch(`${node}/metrics`)).text()
  return Number(/^http_request_duration_seconds_count\{method="POST",route="\/v1\/auth\/register",status_code="201"\} (\d+)/m.exec(text)?.[1] ?? 0)
}

t.test('nginx with the shipped config in front of two nodes', async (t) => {
  const bin = requireTool(t, 'nginx', 'nginx', ['/usr/sbin/nginx'])
  if (bin === undefined) return
  // One proxy in front (TRUST_PROXY=1, as in the compose file); registrations limited to 4 a minute per address.
  const limits = { RATE_LIMITS: 'on', TRUST_PROXY: '1', RATE_LIMIT_REGISTER_IP: '4/60000', RATE_LIMIT_LOGIN_IP: '100000/60000', RATE_LIMIT_SEND_DIRECT: '100000/60000', RATE_LIMIT_CONVERSATION_CREATE: '100000/60000' }
  const cluster = await startCluster(t, 'nginx', limits)
  if (cluster === undefined) return
  markSuiteRan(t, 'nginx')

  const dir = mkdtempSync(join(tmpdir(), 'nginx-'))
  mkdirSync(join(dir, 'certs'))
  const { ca } = certificate(join(dir, 'certs'), { cert: 'tls.crt', key: 'tls.key' })
  const [http, tls] = [await freePort(), await freePort()]
  // The shipped file, on free ports instead of 8080 and 8443; its upstreams are the two nodes.
  const shipped = readFileSync(join(root, 'deploy', 'nginx', 'nginx.conf'), 'utf8')
  const conf = shipped.replace('listen 8080;', `listen 127.0.0.1:${http};`).replace('listen 8443 ssl;', `listen 127.0.0.1:${tls} ssl;`).replace('$host:8443', `$host:${tls}`)
  t.not(conf, shipped, 'the ports are the only change')
  writeFileSync(join(dir, 'nginx.conf'), conf)
  writeFileSync(join(dir, 'upstreams.conf'), `upstream chat {\n${cluster.nodes.map((n) => `  server 127.0.0.1:${n.port};`).join('\n')}\n}\n`)
  const nginx = spawn(bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; error_log stderr warn;`], { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  let errors = ''
  nginx.stderr.on('data', (d) => { errors += d })
  // The master and its workers (a process group of their own): the workers hold stderr open too.
  t.teardown(() => { try { process.kill(-nginx.pid!, 'SIGKILL') } catch { /* already gone */ } })
  await waitFor(async () => {
    if (nginx.exitCode !== null) throw new Error(`nginx exited: ${errors}`)
    return (await probe('127.0.0.1', tls, null)) !== null
  }, 'nginx', 10_000)
  const lb = `https://127.0.0.1:${tls}`

  const redirect = await fetch(`http://127.0.0.1:${http}/health/live?x=1`, { redirect: 'manual' })
  t.equal(redirect.status, 308, 'plain HTTP is redirected')
  t.equal(redirect.headers.get('location'), `https://127.0.0.1:${tls}/health/live?x=1`, 'to the same path over TLS')

  const live = await https(`${lb}/health/ready`, ca)
  t.equal(live.status, 200, 'HTTPS through nginx')
  t.equal(live.body.status, 'ready')

  // Registrations through nginx, each claiming another client address: the limit counts nginx's, shared by both nodes.
  const before = await Promise.all(cluster.urls.map(registrations))
  const tokens: string[] = []
  const ids: string[] = []
  for (let i = 0; i < 4; i++) {
    const r = await https(`${lb}/v1/auth/register`, ca, { method: 'POST', headers: { 'x-forwarded-for': `203.0.113.${i + 1}` }, body: { username: `lb${i}`, email: `lb${i}@nginx.test`, password: 'nginx password 1' } })
    t.equal(r.status, 201, `registration ${i + 1} through nginx`)
    tokens.push(r.body.accessToken as string)
    ids.push((r.body.user as { id: string }).id)
  }
  const fifth = await https(`${lb}/v1/auth/register`, ca, { method: 'POST', headers: { 'x-forwarded-for': '198.51.100.7' }, body: { username: 'lb9', email: 'lb9@nginx.test', password: 'nginx password 1' } })
  t.equal(fifth.status, 429, 'the fifth is refused: a forged X-Forwarded-For does not make a new address')
  const after = await Promise.all(cluster.urls.map(registrations))
  t.ok(after.every((n, i) => n > before[i]!), `both nodes got requests (${after.map((n, i) => n - before[i]!).join(' and ')} registrations)`)

  // A socket through nginx (wss), and messages sent straight to each node: both arrive.
  const conversation = await https(`${lb}/v1/conversations`, ca, { method: 'POST', headers: { authorization: `Bearer ${tokens[0]}` }, body: { type: 'direct', participantIds: [ids[1]] } })
  t.equal(conversation.status, 201)
  const ws = new WebSocket(`wss://127.0.0.1:${tls}/v1/ws?token=${tokens[1]}`, { ca })
  t.teardown(() => ws.terminate())
  const got: string[] = []
  ws.on('message', (data) => { const f = JSON.parse(String(data)) as { type: string, message?: { content: string } }; if (f.type === 'new_message') got.push(f.message!.content) })
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
  ws.send(JSON.stringify({ type: 'ping' }))
  await new Promise<void>((resolve) => ws.once('message', () => resolve()))
  for (const [i, node] of cluster.urls.entries()) {
    const res = await fetch(`${node}/v1/conversations/${conversation.body.id as string}/messages`, { method: 'POST', headers: { authorization: `Bearer ${tokens[0]}`, 'content-type': 'application/json' }, body: JSON.stringify({ content: `via node ${i}` }) })
    t.equal(res.status, 201)
  }
  await waitFor(async () => got.length >= 2, 'both messages on the socket', 10_000)
  t.same(got.sort(), ['via node 0', 'via node 1'], 'the upgraded socket gets what either node stores: one of them is the other node')
  t.equal(errors.replace(/.*\[warn\].*\n?/g, ''), '', 'nginx logged no error')
})
