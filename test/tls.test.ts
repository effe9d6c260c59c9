/**
 * TLS on the node itself (TLS_CERT_FILE, TLS_KEY_FILE): HTTPS and WSS on
 * one port with a certificate the test makes (openssl), security headers on
 * the answers, and no plain HTTP on that port.
 */
import { get as httpGet } from 'node:http'
import { get as httpsGet } from 'node:https'
import t from 'tap'
import { WebSocket } from 'ws'
import { ConfigError, loadConfig } from '../src/config.js'
import { buildTestApp, register } from './helper.js'
import { certificate } from './certificate.js'

t.test('the node serves HTTPS and WSS with its certificate, and refuses plain HTTP on that port', async (t) => {
  const { cert, key, ca } = certificate()
  const built = await buildTestApp(t, { env: { TLS_CERT_FILE: cert, TLS_KEY_FILE: key } })
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.match(base, /^https:\/\/127\.0\.0\.1:\d+$/, 'listening on https')

  const answer = await new Promise<{ status: number, headers: Record<string, unknown>, body: string }>((resolve, reject) => {
    httpsGet(`${base}/health/live`, { ca }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    }).on('error', reject)
  })
  t.equal(answer.status, 200)
  t.same(JSON.parse(answer.body), { status: 'ok' })
  t.match(answer.headers['strict-transport-security'], /max-age=\d+/, 'HSTS')
  t.equal(answer.headers['x-content-type-options'], 'nosniff')

  const rejected = await new Promise<string>((resolve) => {
    httpsGet(`${base}/health/live`, (res) => resolve(`answered ${res.statusCode}`)).on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message))
  })
  t.match(rejected, /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/, 'a client that does not trust the certificate is told so')

  const plain = await new Promise<string>((resolve) => {
    httpGet(base.replace('https:', 'http:') + '/health/live', (res) => resolve(`answered ${res.statusCode}`)).on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message))
  })
  t.notMatch(plain, /answered 2/, `plain HTTP gets no answer from the TLS port (${plain})`)

  const user = await register(app, 'tls')
  const ws = new WebSocket(`${base.replace('https:', 'wss:')}/v1/ws?token=${user.accessToken}`, { ca })
  t.teardown(() => ws.terminate())
  const pong = await new Promise<unknown>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ type: 'ping' })))
    ws.on('message', (data) => { const f = JSON.parse(String(data)) as { type: string }; if (f.type === 'pong') resolve(f) })
    ws.on('error', reject)
  })
  t.same(pong, { type: 'pong' }, 'a websocket over wss:// carries frames')
})

t.test('TLS settings: both files or neither, and a file that cannot be read stops the start', async (t) => {
  const { cert, key } = certificate()
  t.throws(() => loadConfig({ TLS_CERT_FILE: cert }), /set TLS_CERT_FILE and TLS_KEY_FILE together/)
  t.throws(() => loadConfig({ TLS_KEY_FILE: key }), ConfigError)
  t.throws(() => loadConfig({ TLS_CERT_FILE: cert, TLS_KEY_FILE: '/nonexistent/key.pem' }), /TLS_KEY_FILE: cannot read \/nonexistent\/key.pem: ENOENT/)
  const config = loadConfig({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key })
  t.ok(config.tls?.cert.toString().includes('BEGIN CERTIFICATE'), 'read at start')
  t.equal(loadConfig({}).tls, null, 'no TLS by default')
})
