/**
 * Clients that misbehave without being malicious: too many sockets from one
 * address, and a client that resends the same message after every
 * reconnect. (Malformed and oversized frames, floods, slow readers and silent
 * sockets: protocol.test.ts and fuzz/.)
 */
import t from 'tap'
import { buildTestApp, client, forEachStore, register } from '../helper.js'
import { WsClient } from '../ws-client.js'
import { FAST_ENV } from './nodes.js'

t.test('one address may hold WS_MAX_CONNECTIONS_PER_IP sockets; more are refused with 429 until one closes', async (t) => {
  const built = await buildTestApp(t, { env: { ...FAST_ENV, WS_MAX_CONNECTIONS_PER_IP: '3' } })
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const users = [await register(app, 'many'), await register(app, 'many')]
  const open: WsClient[] = []
  t.teardown(() => { for (const ws of open) ws.close() })
  for (let i = 0; i < 3; i++) open.push(await WsClient.connect(base, users[i % 2]!.accessToken))
  const refused = await WsClient.connect(base, users[1]!.accessToken).then(() => undefined, (err: { statusCode?: number }) => err)
  t.equal(refused?.statusCode, 429, 'the fourth from the address is refused, whoever the user')
  const metrics = await app.inject('/metrics')
  t.match(metrics.body, /rate_limit_rejections_total\{where="ws_connect"\} 1/, 'and counted')
  open.shift()!.close()
  await new Promise((resolve) => setTimeout(resolve, 100))
  const again = await WsClient.connect(base, users[1]!.accessToken)
  open.push(again)
  await again.roundTrip()
  t.pass('a socket closed makes room for a new one')
})

forEachStore(t, 'a client that resends its message after every reconnect gets the first ack each time and stores one message', async (t, app) => {
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const ann = client(app, await register(app, 'resender'))
  const bob = client(app, await register(app, 'receiver'))
  const id = (await ann.post('/v1/conversations', { type: 'direct', participantIds: [bob.user.id] })).body.id
  const watcher = await WsClient.connect(base, bob.user.accessToken)
  t.teardown(() => watcher.close())
  await watcher.roundTrip()

  const acks = []
  for (let i = 0; i < 4; i++) {
    const ws = await WsClient.connect(base, ann.user.accessToken)
    ws.send({ type: 'sync', cursors: { [id]: 0 } })
    ws.send({ type: 'send_message', conversationId: id, content: 'once, please', clientMessageId: 'same-every-time' })
    const [ack] = await ws.waitFor('message_sent')
    acks.push(ack!)
    // Every reconnect after the first replays the stored message in the sync, once.
    if (i > 0) t.equal(ws.all('new_message').length, 1, `reconnect ${i}: the sync replays it once`)
    ws.close()
    await ws.waitClosed()
  }
  t.equal(new Set(acks.map((a) => a.messageId)).size, 1, 'one message id in every ack')
  t.equal(new Set(acks.map((a) => a.seq)).size, 1, 'one seq')
  await watcher.roundTrip()
  t.equal(watcher.all('new_message').length, 1, 'the other participant got it once')
  const history = (await ann.get(`/v1/conversations/${id}/messages`)).body.items
  t.equal(history.length, 1, 'history holds it once')
}, { env: FAST_ENV })
