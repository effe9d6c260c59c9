/**
 * Misbehaving clients: thousands of generated REST bodies and websocket frames
 * (wrong types, huge and tiny sizes, unicode, __proto__ / constructor keys,
 * $-operator keys, deep nesting), generated request headers (request ids,
 * X-Forwarded-For, Host, Authorization), and floods of pings and invalid
 * frames. The server answers each with a contract error or a success, never
 * a 500, and keeps serving.
 */
import t from 'tap'
import fc from 'fast-check'
import { buildTestApp, client, register } from '../helper.js'
import { WsClient } from '../ws-client.js'
import { FAST_ENV } from '../realtime/nodes.js'

const ADMIN_TOKEN = 'admin-token-for-the-fuzz-0123456789abcdef'
const CODES = new Set(['VALIDATION_ERROR', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED'])

/** Any JSON-ish value, with the keys attackers like. */
const nastyKey = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'prototype', '$gt', '$ne', '$where', 'type', 'content', 'login', 'password', 'conversationId', 'seq', 'clientMessageId', 'replyTo', 'threadId', 'attachments', 'id', 'url'))
const nastyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'grapheme', maxLength: 50 }),
    fc.string({ minLength: 0, maxLength: 3 }),
    fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
    fc.constantFrom('', 'x'.repeat(20_000), '665f1c2ab4d5e6f7a8b9c0d1', '\u0000', '💬'.repeat(100), '@all', '@@@', '@'.repeat(3000), 'hi @fz1 @fz2 @all'),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(nastyKey, tie('value'), { maxKeys: 5 })
  )
})).value
const deep = fc.integer({ min: 50, max: 2000 }).map((n) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown)
const body = fc.oneof(nastyValue, deep, fc.dictionary(nastyKey, nastyValue, { maxKeys: 6 }))

t.test('REST bodies: never a 500, always the contract shape', async (t) => {
  const built = await buildTestApp(t, { env: { ...FAST_ENV, ADMIN_API_TOKEN: ADMIN_TOKEN } })
  if (built === undefined) return
  const { app } = built
  const a = client(app, await register(app, 'fz'))
  const b = client(app, await register(app, 'fz'))
  const conv = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const msg = (await a.post(`/v1/conversations/${conv}/messages`, { content: 'seed' })).body.id
  const endpoint = (await app.inject({ method: 'POST', url: '/v1/admin/event-endpoints', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { url: 'https://hooks.example.com/fuzz' } })).json().id as string
  const targets: Array<[string, string, boolean | 'admin']> = [
    ['POST', '/v1/auth/register', false], ['POST', '/v1/auth/login', false], ['POST', '/v1/auth/refresh', false],
    ['POST', '/v1/auth/logout', false], ['PATCH', '/v1/users/me', true], ['POST', '/v1/conversations', true],
    ['PATCH', `/v1/conversations/${conv}`, true], ['POST', `/v1/conversations/${conv}/participants`, true],
    ['POST', `/v1/conversations/${conv}/messages`, true], ['PATCH', `/v1/conversations/${conv}/messages/${msg}`, true],
    ['POST', `/v1/conversations/${conv}/read`, true], ['POST', `/v1/conversations/${conv}/webhooks`, true],
    ['POST', '/v1/bots', true], ['POST', '/v1/admin/event-endpoints', 'admin'], ['POST', `/v1/admin/event-endpoints/${endpoint}/deliveries/${msg}/retry`, 'admin']
  ]
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort()
  let count = 0
  await fc.assert(fc.asyncProperty(fc.constantFrom(...targets), body, async ([method, url, auth], payload) => {
    count++
    const res = await app.inject({ method: method as 'POST', url, headers: { 'content-type': 'application/json', ...(auth === 'admin' ? { authorization: `Bearer ${ADMIN_TOKEN}` } : auth && a.user.auth) }, payload: JSON.stringify(payload) })
    if (res.statusCode >= 500) throw new Error(`${method} ${url} ${JSON.stringify(payload)?.slice(0, 200)} → ${res.statusCode} ${res.body}`)
    if (res.statusCode >= 400) {
      const err = res.json()
      if (!CODES.has(err.code) || err.statusCode !== res.statusCode) throw new Error(`bad error shape: ${res.body}`)
    }
  }), { numRuns: 2500 })
  t.equal(count, 2500, 'cases run')
  t.equal((await app.inject('/health/ready')).statusCode, 200, 'still serving')
  t.same(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeKeys, 'no prototype pollution')
})

t.test('websocket frames: error frames, never a crash; the socket keeps answering', async (t) => {
  // A slow heartbeat: this process is busy generating and sending, and must not be taken for a dead client.
  // 2000 frames at once, each to be answered on its own: over the frame limit (test/realtime/protocol.test.ts tests it).
  const built = await buildTestApp(t, { env: { ...FAST_ENV, WS_HEARTBEAT_MS: '10000', WS_MAX_PAYLOAD_BYTES: '1048576', WS_FRAME_BURST: '100000' } })
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const a = client(app, await register(app, 'fzw'))
  const b = client(app, await register(app, 'fzw'))
  const conv = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const frame = fc.oneof(
    body,
    fc.record({ type: fc.constantFrom('send_message', 'typing', 'delivered', 'read', 'sync', 'ping'), conversationId: fc.oneof(fc.constant(conv), nastyValue), content: nastyValue, attachments: fc.oneof(nastyValue, fc.array(fc.record({ id: nastyValue }), { maxLength: 3 })), clientMessageId: nastyValue, replyTo: nastyValue, threadId: nastyValue, seq: nastyValue, isTyping: nastyValue, cursors: nastyValue }, { requiredKeys: ['type'] })
  )
  // Generated before connecting; frames over the payload limit close the socket by design (tested elsewhere).
  const frames = fc.sample(frame, 2000).map((f) => JSON.stringify(f) ?? 'undefined').filter((text) => Buffer.byteLength(text) < 1_000_000)
  const ws = await WsClient.connect(base, a.user.accessToken)
  t.teardown(() => ws.close())
  for (const text of frames) ws.send(text)
  await ws.roundTrip()
  await ws.waitFor('pong', () => true, 1, 20_000)
  const internal = ws.all('error', (e) => e.code === 'INTERNAL_ERROR')
  t.same(internal, [], 'no internal errors')
  t.equal(ws.closed, undefined, 'still open')
  t.ok(ws.all('error').length > 100, `${ws.all('error').length} error frames`)
})

t.test('reaction emoji in the path: any string is a 204 or a contract error, never a 500', async (t) => {
  const built = await buildTestApp(t, { env: { ...FAST_ENV, RATE_LIMIT_REACTION: '100000/60000' } })
  if (built === undefined) return
  const { app } = built
  const a = client(app, await register(app, 'fzr'))
  const b = client(app, await register(app, 'fzr'))
  const conv = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const msg = (await a.post(`/v1/conversations/${conv}/messages`, { content: 'seed' })).body.id
  const emoji = fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), fc.string({ minLength: 1, maxLength: 80 }), fc.constantFrom('👍', ':ok:', '🇫🇷', '👍🏽', '%', '..', '\u0000', ':a:b:'))
  let accepted = 0
  await fc.assert(fc.asyncProperty(emoji, fc.boolean(), async (e, add) => {
    const res = await app.inject({ method: add ? 'PUT' : 'DELETE', url: `/v1/conversations/${conv}/messages/${msg}/reactions/${encodeURIComponent(e)}`, headers: a.user.auth })
    if (res.statusCode >= 500) throw new Error(`${JSON.stringify(e)} → ${res.statusCode} ${res.body}`)
    if (res.statusCode === 204) { accepted++; return }
    const err = res.json()
    if (!CODES.has(err.code) || err.statusCode !== res.statusCode) throw new Error(`bad error shape: ${res.body}`)
  }), { numRuns: 600 })
  t.ok(accepted > 0, `${accepted} accepted`)
  t.equal((await app.inject('/health/ready')).statusCode, 200, 'still serving')
})

/** Header values a client can send (printable ASCII; what HTTP allows through). */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 120 }),
  fc.constantFrom('', ' ', 'x'.repeat(4000), '../../etc/passwd', '<script>alert(1)</script>', '%00', '1.1.1.1, 2.2.2.2, 3.3.3.3', '::1', 'unknown', '[::ffff:10.0.0.1]:80', 'evil.example:99999', 'Bearer ', 'Bearer a.b.c', 'Bearer cbk_', 'Bearer cbk_665f1c2ab4d5e6f7a8b9c0d1_', `Bearer cbk_665f1c2ab4d5e6f7a8b9c0d1_${'A'.repeat(43)}`, 'Bearer cbk_x_y_z')
)

t.test('multipart upload bodies: malformed, truncated, mislabelled, oversized: a contract error or a 201, never a 500', async (t) => {
  const built = await buildTestApp(t, { env: { ...FAST_ENV, ATTACHMENT_MAX_BYTES: '4096' } })
  if (built === undefined) return
  const { app } = built
  const a = client(app, await register(app, 'fzm'))
  const b = client(app, await register(app, 'fzm'))
  const conv = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const crlf = '\r\n'
  const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', '"', '\u0000', '../../etc/passwd', 'a'.repeat(300), '💬', 'file', 'x"; name="file'))
  const part = fc.record({
    name: fc.oneof(fc.constant('file'), text),
    filename: fc.option(text),
    type: fc.option(fc.oneof(text, fc.constantFrom('image/png', 'text/html', 'application/octet-stream'))),
    body: fc.oneof(fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u).toString('latin1')), fc.constantFrom('<html>', '\x89PNG\r\n\x1a\n', 'x'.repeat(5000)))
  })
  const multipart = fc.record({
    boundary: fc.oneof(fc.constant('XyZ'), fc.string({ minLength: 0, maxLength: 80 })),
    declared: fc.oneof(fc.constant('XyZ'), fc.string({ maxLength: 80 })),
    parts: fc.array(part, { maxLength: 4 }),
    cut: fc.option(fc.nat({ max: 400 })),
    closing: fc.boolean(),
    contentType: fc.constantFrom('multipart/form-data; boundary=', 'multipart/form-data', 'multipart/mixed; boundary=', 'application/json; x=', 'text/plain; boundary=', 'multipart/form-data; boundary="')
  }).map(({ boundary, declared, parts, cut, closing, contentType }) => {
    let raw = parts.map((p) => `--${boundary}${crlf}Content-Disposition: form-data; name="${p.name}"${p.filename === null ? '' : `; filename="${p.filename}"`}${crlf}${p.type === null ? '' : `Content-Type: ${p.type}${crlf}`}${crlf}${p.body}${crlf}`).join('') + (closing ? `--${boundary}--${crlf}` : '')
    if (cut !== null) raw = raw.slice(0, cut)
    return { payload: Buffer.from(raw, 'latin1'), type: contentType.endsWith('=') || contentType.endsWith('"') ? `${contentType}${declared}` : contentType }
  })
  let created = 0
  let count = 0
  await fc.assert(fc.asyncProperty(multipart, async ({ payload, type }) => {
    count++
    const res = await app.inject({ method: 'POST', url: `/v1/conversations/${conv}/attachments`, headers: { ...a.user.auth, 'content-type': type }, payload })
    if (res.statusCode >= 500) throw new Error(`${type} ${JSON.stringify(payload.toString('latin1').slice(0, 300))} → ${res.statusCode} ${res.body}`)
    if (res.statusCode === 201) { created++; return }
    const err = res.json()
    if (!CODES.has(err.code) || err.statusCode !== res.statusCode) throw new Error(`bad error shape: ${res.body}`)
  }), { numRuns: 600 })
  t.equal(count, 600, 'cases run')
  t.comment(`${created} of them were well-formed uploads`)
  const wellFormed = Buffer.from(`--XyZ${crlf}Content-Disposition: form-data; name="file"; filename="a.txt"${crlf}Content-Type: text/plain${crlf}${crlf}hello${crlf}--XyZ--${crlf}`)
  // In a conversation of its own: the 600 above may have used up the first one's upload limit.
  const fresh = (await b.post('/v1/conversations', { type: 'group', name: 'fresh', participantIds: [a.user.id] })).body.id
  const ok = await app.inject({ method: 'POST', url: `/v1/conversations/${fresh}/attachments`, headers: { ...b.user.auth, 'content-type': 'multipart/form-data; boundary=XyZ' }, payload: wellFormed })
  t.equal(ok.statusCode, 201, 'the same shape, well formed, is an upload (the generator is not refused wholesale)')
  t.equal((await app.inject('/health/ready')).statusCode, 200, 'still serving')
  t.same(await app.store.attachments.deleting(10), [], 'nothing half-removed left behind')
})

t.test('search queries: any q, cursor and limit is a page or a contract error, never a 500', async (t) => {
  const built = await buildTestApp(t, { env: FAST_ENV })
  if (built === undefined) return
  const { app } = built
  const a = client(app, await register(app, 'fzs'))
  const b = client(app, await register(app, 'fzs'))
  const conv = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  await a.post(`/v1/conversations/${conv}/messages`, { content: 'Grüße aus 東京 "quoted" from:me' })
  const piece = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom('"', '""', 'from:', 'from:@', 'before:', 'after:2026-13-01', 'before:2026-02-29', 'after:0000-01-01', 'has:', 'has:attachment', 'has:ATTACHMENT', '東京', 'grusse', '\u0000', '%', '$where', '{"$gt":""}', '*', '\\'))
  const q = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(' '))
  const cursor = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 60 }), fc.constantFrom(Buffer.from('[1,"665f1c2ab4d5e6f7a8b9c0d1"]').toString('base64url'), Buffer.from('[-1e300,"x"]').toString('base64url'), Buffer.from('{"__proto__":1}').toString('base64url')))
  const limit = fc.oneof(fc.constant(undefined), fc.integer({ min: -5, max: 100 }).map(String), fc.constantFrom('x', '1e3', ''))
  let ok = 0
  await fc.assert(fc.asyncProperty(q, cursor, limit, fc.boolean(), async (query, c, l, inConversation) => {
    const params = new URLSearchParams({ q: query })
    if (c !== undefined) params.set('cursor', c)
    if (l !== undefined) params.set('limit', l)
    if (inConversation) params.set('conversationId', conv)
    const res = await app.inject({ method: 'GET', url: `/v1/search/messages?${params}`, headers: a.user.auth })
    if (res.statusCode >= 500) throw new Error(`${params} → ${res.statusCode} ${res.body}`)
    if (res.statusCode === 200) { ok++; return }
    const err = res.json()
    if (!CODES.has(err.code) || err.statusCode !== res.statusCode) throw new Error(`bad error shape: ${res.body}`)
  }), { numRuns: 800 })
  t.ok(ok > 0, `some were pages (${ok})`)
  t.equal((await app.inject('/health/ready')).statusCode, 200, 'still serving')
})

t.test('request headers: ids, forwarded-for, hosts and tokens never cause a 500, and a request id is echoed only when safe', async (t) => {
  const built = await buildTestApp(t, { env: { ...FAST_ENV, TRUST_PROXY: '1', PUBLIC_URL: 'https://chat.example.com' } })
  if (built === undefined) return
  const { app } = built
  const a = client(app, await register(app, 'fzh'))
  const targets: Array<[string, string, unknown]> = [
    ['GET', '/health/live', undefined], ['GET', '/v1/users/me', undefined], ['GET', '/v1/conversations', undefined],
    ['POST', '/v1/auth/login', { login: 'nobody', password: 'wrong password' }], ['GET', '/v1/presence?userIds=665f1c2ab4d5e6f7a8b9c0d1', undefined]
  ]
  let count = 0
  await fc.assert(fc.asyncProperty(fc.constantFrom(...targets), headerValue, headerValue, headerValue, fc.boolean(), fc.option(headerValue), async ([method, url, payload], id, forwarded, host, withToken, authorization) => {
    count++
    const headers: Record<string, string> = { 'x-request-id': id, 'x-forwarded-for': forwarded, host, ...(withToken ? a.user.auth : {}) }
    if (authorization !== null) headers.authorization = authorization
    const res = await app.inject({ method: method as 'GET', url, headers, remoteAddress: '10.1.1.1', ...(payload !== undefined && { payload: payload as object }) })
    if (res.statusCode >= 500) throw new Error(`${method} ${url} ${JSON.stringify(headers).slice(0, 300)} → ${res.statusCode} ${res.body}`)
    if (res.statusCode >= 400) {
      const err = res.json()
      if (!CODES.has(err.code) || err.statusCode !== res.statusCode) throw new Error(`bad error shape: ${res.body}`)
    }
    const echoed = String(res.headers['x-request-id'])
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(echoed)) throw new Error(`unsafe request id echoed: ${JSON.stringify(echoed)}`)
    if (echoed !== id && /^[A-Za-z0-9._:-]{1,64}$/.test(id)) throw new Error(`a safe request id was replaced: ${id}`)
  }), { numRuns: 1500 })
  t.equal(count, 1500, 'cases run')
  t.equal((await app.inject('/health/ready')).statusCode, 200, 'still serving')
})

t.test('a flood of pings and invalid frames under the production frame limit: refused, then closed with 1008; nothing else suffers', async (t) => {
  const built = await buildTestApp(t, { env: { ...FAST_ENV, WS_HEARTBEAT_MS: '10000' } })
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const a = client(app, await register(app, 'fzf'))
  const b = client(app, await register(app, 'fzf'))
  const flood = fc.sample(fc.oneof(
    fc.constant('{"type":"ping"}'),
    body.map((v) => JSON.stringify(v) ?? 'null').filter((s) => s.length < 50_000),
    fc.string({ maxLength: 200 }),
    fc.constantFrom('', '{', 'null', '[]', '{"type":"ping","extra":1}', '{"type":"nope"}')
  ), 800)
  const bystander = await WsClient.connect(base, b.user.accessToken)
  const ws = await WsClient.connect(base, a.user.accessToken)
  t.teardown(() => { ws.close(); bystander.close() })
  await ws.roundTrip()
  for (const text of flood) ws.send(text)
  const closed = await ws.waitClosed(20_000)
  t.equal(closed.code, 1008, 'closed as a flood')
  const codes = new Set(ws.all('error').map((e) => e.code as string))
  t.notOk(codes.has('INTERNAL_ERROR'), `no internal errors (codes: ${[...codes].join(', ')})`)
  t.ok(codes.has('RATE_LIMITED'), 'refused as over the limit before the close')
  t.ok(ws.all('pong').length + ws.all('error').length <= Number(60 + 50 + 5), 'answers stop at the limit and the flood allowance')
  await bystander.roundTrip()
  t.equal(bystander.closed, undefined, 'another user\'s socket goes on')
})
