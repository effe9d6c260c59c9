/** The websocket protocol's edges on one node: auth before the upgrade, token expiry, bad frames, heartbeats, shutdown. */
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { buildTestApp, client, register, TEST_JWT_SECRET } from '../helper.js'
import { makeJwt } from '../jwt.js'
import { WsClient } from '../ws-client.js'
import { FAST_ENV } from './nodes.js'

async function node (t: Test, env: Record<string, string> = {}) {
  const built = await buildTestApp(t, { env: { ...FAST_ENV, WS_MAX_PAYLOAD_BYTES: '4096', ...env } })
  if (built === undefined) throw new Error('no app')
  return { app: built.app, base: await built.app.listen({ port: 0, host: '127.0.0.1' }) }
}

t.test('a missing, bad, forged or unsigned token is refused before the upgrade with 401', async (t) => {
  const { app, base } = await node(t)
  const u = await register(app, 'wsauth')
  const now = Math.floor(Date.now() / 1000)
  for (const [name, token] of [
    ['none', undefined],
    ['garbage', 'not-a-token'],
    ['wrong secret', makeJwt({ sub: u.id, jti: 'x', iat: now, exp: now + 60 }, { secret: 'x'.repeat(40) })],
    ['alg none', makeJwt({ sub: u.id, jti: 'x', iat: now, exp: now + 60 }, { alg: 'none' })],
    ['expired', makeJwt({ sub: u.id, jti: 'x', iat: now - 100, exp: now - 1 }, { secret: TEST_JWT_SECRET })]
  ] as const) {
    const err = await WsClient.connect(base, token).then(() => undefined, (e: { statusCode?: number }) => e)
    t.equal(err?.statusCode, 401, name)
  }
  const viaHeader = await WsClient.connect(base, u.accessToken, { header: true })
  await viaHeader.roundTrip()
  viaHeader.close()
  t.pass('the Authorization header works too')
})

t.test('a socket whose token expires is closed with 4401', async (t) => {
  const { app, base } = await node(t)
  const u = await register(app, 'wsexp')
  const now = Math.floor(Date.now() / 1000)
  const ws = await WsClient.connect(base, makeJwt({ sub: u.id, jti: 'short', iat: now, exp: now + 1 }, { secret: TEST_JWT_SECRET }))
  const closed = await ws.waitClosed(4000)
  t.equal(closed.code, 4401)
})

t.test('bad frames get error frames and the socket stays open; oversized ones close it with 1009', async (t) => {
  const { app, base } = await node(t)
  const alice = client(app, await register(app, 'wsbad'))
  const bob = client(app, await register(app, 'wsbad'))
  const mallory = client(app, await register(app, 'wsbad'))
  const id = (await alice.post('/v1/conversations', { type: 'direct', participantIds: [bob.user.id] })).body.id
  const ws = await WsClient.connect(base, mallory.user.accessToken)
  t.teardown(() => ws.close())
  const cases: Array<[unknown, RegExp, string?]> = [
    ['{not json', /JSON/],
    [[1, 2], /frame/],
    [{ type: 'launch_missiles' }, /type must be one of send_message/],
    [{ type: 'send_message', conversationId: id, content: 'x' }, /clientMessageId/],
    [{ type: 'send_message', conversationId: 'nope', content: 'x', clientMessageId: 'c1' }, /conversationId/, 'c1'],
    [{ type: 'send_message', conversationId: id, content: 'x', clientMessageId: 'c2', senderId: bob.user.id }, /senderId is not an allowed property/, 'c2'],
    [{ type: 'typing', conversationId: id, isTyping: 'yes' }, /isTyping/],
    [{ type: 'read', conversationId: id, seq: -1 }, /seq/],
    [{ type: 'sync', cursors: { nope: 1 } }, /cursors/],
    [{ type: 'sync', cursors: { [id]: -1 } }, /cursors/],
    [{ type: 'sync', cursors: { [id]: 1.5 } }, /cursors/],
    [{ type: 'sync', cursors: { [id]: '7' } }, /cursors/],
    [{ type: 'ping', __proto__: { polluted: true }, constructor: 1 }, /constructor/]
  ]
  for (const [frame] of cases) ws.send(frame)
  const errors = await ws.waitFor('error', () => true, cases.length)
  cases.forEach(([, message, clientMessageId], i) => {
    t.equal(errors[i]!.code, 'VALIDATION_ERROR')
    t.match(errors[i]!.message, message)
    t.equal(errors[i]!.clientMessageId, clientMessageId)
  })

  ws.send({ type: 'send_message', conversationId: id, content: 'let me in', clientMessageId: 'intruder' })
  ws.send({ type: 'typing', conversationId: id, isTyping: true })
  ws.send({ type: 'read', conversationId: id, seq: 1 })
  ws.send({ type: 'send_message', conversationId: 'ffffffffffffffffffffffff', content: 'x', clientMessageId: 'ghost' })
  const more = await ws.waitFor('error', () => true, cases.length + 4)
  t.match(more.slice(cases.length), [
    { code: 'UNAUTHORIZED', clientMessageId: 'intruder' },
    { code: 'UNAUTHORIZED' },
    { code: 'UNAUTHORIZED' },
    { code: 'NOT_FOUND', clientMessageId: 'ghost' }
  ])
  ws.socket.send(Buffer.from([1, 2, 3]), { binary: true })
  const [binary] = (await ws.waitFor('error', () => true, cases.length + 5)).slice(-1)
  t.match(binary, { code: 'VALIDATION_ERROR', message: /JSON text/ })
  await ws.roundTrip()
  t.equal((await alice.get(`/v1/conversations/${id}/messages`)).body.items.length, 0, 'nothing was stored')

  ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(5000) }))
  const closed = await ws.waitClosed()
  t.equal(closed.code, 1009, 'over maxPayload')
})

t.test('oversized message content gets VALIDATION_ERROR with its clientMessageId', async (t) => {
  const { app, base } = await node(t, { MESSAGE_MAX_LENGTH: '100' })
  const a = client(app, await register(app, 'wslen'))
  const b = client(app, await register(app, 'wslen'))
  const id = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const ws = await WsClient.connect(base, a.user.accessToken)
  t.teardown(() => ws.close())
  ws.send({ type: 'send_message', conversationId: id, content: 'x'.repeat(101), clientMessageId: 'long' })
  const [err] = await ws.waitFor('error')
  t.match(err, { code: 'VALIDATION_ERROR', clientMessageId: 'long', message: /content must NOT have more than 100 characters/ })
})

t.test('the server pings; a socket that stops answering is closed', async (t) => {
  const { app, base } = await node(t)
  const u = await register(app, 'wssilent')
  const silent = new WebSocket(`${base.replace('http', 'ws')}/v1/ws?token=${u.accessToken}`, { autoPong: false })
  let pings = 0
  silent.on('ping', () => { pings++ })
  const code = await new Promise<number>((resolve) => silent.on('close', (c) => resolve(c)))
  t.ok(pings >= 1, 'pinged')
  t.equal(code, 1006, 'terminated without a close frame')
  const lively = await WsClient.connect(base, u.accessToken)
  await new Promise((r) => setTimeout(r, 1000))
  t.equal(lively.closed, undefined, 'a socket that answers stays open')
  lively.close()
})

t.test('shutdown closes sockets with 1012 and releases their presence', async (t) => {
  const built = await buildTestApp(t, { env: FAST_ENV })
  if (built === undefined) return
  const base = await built.app.listen({ port: 0, host: '127.0.0.1' })
  const u = await register(built.app, 'wsbye')
  const ws = await WsClient.connect(base, u.accessToken)
  await ws.roundTrip()
  t.same([...await built.app.presence.online([u.id])], [u.id])
  const { presence, realtime } = built.app
  const closing = built.app.close()
  const closed = await ws.waitClosed()
  await closing
  t.equal(closed.code, 1012)
  t.equal(realtime.hub.size, 0, 'the hub let go of the socket')
  t.same([...await presence.online([u.id])], [], 'its lease was released, not left to expire')
})

t.test('frames are rate limited per user (a burst per window); a client that keeps flooding is closed with 1008', async (t) => {
  const { app, base } = await node(t, { RATE_LIMITS: 'on', WS_FRAME_BURST: '5', WS_FRAMES_PER_SECOND: '1', WS_FLOOD_CLOSE_AFTER: '10' })
  const a = client(app, await register(app, 'wsflood'))
  const b = client(app, await register(app, 'wsflood'))
  const id = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const ws = await WsClient.connect(base, a.user.accessToken)
  t.teardown(() => ws.close())
  for (let i = 0; i < 8; i++) ws.send({ type: 'send_message', conversationId: id, content: `m${i}`, clientMessageId: `f-${i}` })
  const acks = await ws.waitFor('message_sent', () => true, 5)
  const limited = await ws.waitFor('error', (f) => f.code === 'RATE_LIMITED', 3)
  t.equal(acks.length, 5, 'the burst passes')
  t.same(limited.map((f) => f.clientMessageId), ['f-5', 'f-6', 'f-7'], 'the excess is refused, each with its clientMessageId')
  t.equal((await a.get(`/v1/conversations/${id}/messages`)).body.items.length, 5, 'refused frames stored nothing')
  for (let i = 0; i < 20; i++) ws.send({ type: 'typing', conversationId: id, isTyping: true })
  const closed = await ws.waitClosed()
  t.equal(closed.code, 1008, 'closed after 10 refusals in a row')
})

t.test('pings and invalid frames count against the frame limit too: a flood of them is refused, then closed with 1008', async (t) => {
  for (const flood of [{ type: 'ping' }, '{not json', { type: 'launch_missiles' }]) {
    const { app, base } = await node(t, { RATE_LIMITS: 'on', WS_FRAME_BURST: '5', WS_FRAMES_PER_SECOND: '1', WS_FLOOD_CLOSE_AFTER: '10' })
    const ws = await WsClient.connect(base, (await register(app, 'wsping')).accessToken)
    t.teardown(() => ws.close())
    for (let i = 0; i < 30; i++) ws.send(flood)
    const closed = await ws.waitClosed()
    t.equal(closed.code, 1008, `${JSON.stringify(flood)}: closed after 10 refusals in a row`)
    t.ok(ws.all('error', (f) => f.code === 'RATE_LIMITED').length >= 1, 'refused with RATE_LIMITED first')
  }
})

t.test('a client that stops reading is closed with 1013 before its buffer grows without bound', async (t) => {
  // It sends as fast as it can until the reader is dropped: past production's 120 a minute.
  const { app, base } = await node(t, { WS_MAX_BUFFERED_BYTES: '65536', MESSAGE_MAX_LENGTH: '100000', RATE_LIMIT_SEND_DIRECT: '100000/60000' })
  const a = client(app, await register(app, 'wsslow'))
  const b = client(app, await register(app, 'wsslow'))
  const id = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const slow = await WsClient.connect(base, b.user.accessToken)
  await slow.roundTrip()
  const raw = (slow.socket as unknown as { _socket: { pause (): void, resume (): void } })._socket
  raw.pause()
  const big = 'x'.repeat(99_000)
  let sent = 0
  const started = Date.now()
  while (Date.now() - started < 20_000) {
    await a.post(`/v1/conversations/${id}/messages`, { content: big })
    sent++
    const conns = app.realtime.hub.connections().filter((c) => c.userId === b.user.id)
    if (conns.length === 0) break
  }
  t.ok(app.realtime.hub.connections().every((c) => c.userId !== b.user.id), `dropped after ${sent} messages of 99 kB`)
  raw.resume()
  const closed = await slow.waitClosed(5000)
  t.ok([1013, 1006].includes(closed.code), `closed with ${closed.code}`)
  t.equal((await a.get(`/v1/conversations/${id}/messages?limit=1`)).body.items[0].seq, sent, 'every send was stored all the same')
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, /^ws_deliveries_failed_total\{reason="slow_consumer"\} [1-9]/m, 'the frame that did not fit is counted as a failed delivery')
  t.match(metrics, /^ws_disconnects_total\{reason="slow_consumer"\} 1$/m, 'and the socket as dropped for being too slow')
})
