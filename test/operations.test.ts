/** What operators rely on: metrics that move, logs that follow a message across nodes, and the AsyncAPI document. */
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { Parser } from '@asyncapi/parser'
import { parse } from 'yaml'
import { clientFrames, ServerFrames } from '../src/realtime/protocol.js'
import { buildTestApp, client, register, testConfig } from './helper.js'
import { WebSocket } from 'ws'
import { WsClient } from './ws-client.js'
import { FAST_ENV, memoryDeployment } from './realtime/nodes.js'

const metricValue = (text: string, name: string, labels = ''): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? '' : `{${labels}`}`) && !l.startsWith('#'))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

/** Two users in a direct conversation, the second with an open socket: the traffic the metrics tests count. */
async function directWithSocket (t: Test, app: FastifyInstance, base: string, name: string) {
  const a = client(app, await register(app, name))
  const b = client(app, await register(app, name))
  const id = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id as string
  const ws = await WsClient.connect(base, b.user.accessToken)
  t.teardown(() => ws.close())
  await ws.roundTrip()
  return { a, b, id, ws }
}

t.test('/metrics moves with traffic: HTTP, messages by source, frames, broker, store, send-to-deliver latency', async (t) => {
  const built = await buildTestApp(t, { env: { ...FAST_ENV, METRICS_TOKEN: 'metrics-token-0123456789' } })
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal((await app.inject('/metrics')).statusCode, 401, 'the token is required when configured')
  const scrape = async () => (await app.inject({ url: '/metrics', headers: { authorization: 'Bearer metrics-token-0123456789' } })).body
  const before = await scrape()

  const { a, id, ws } = await directWithSocket(t, app, base, 'met')
  await a.post(`/v1/conversations/${id}/messages`, { content: 'via rest' })
  await ws.waitFor('new_message')
  ws.send({ type: 'send_message', conversationId: id, content: 'via ws', clientMessageId: 'm1' })
  await ws.waitFor('message_sent')

  const after = await scrape()
  t.match(after, /# TYPE process_cpu_user_seconds_total counter/, 'process defaults')
  t.ok(metricValue(after, 'http_request_duration_seconds_count', 'method="POST",route="/v1/conversations/:id/messages",status_code="201"') >= 1, 'HTTP duration by route and status')
  t.equal(metricValue(after, 'messages_sent_total', 'source="rest"') - metricValue(before, 'messages_sent_total', 'source="rest"'), 1)
  t.equal(metricValue(after, 'messages_sent_total', 'source="ws"'), 1)
  t.equal(metricValue(after, 'ws_connections'), 1)
  t.ok(metricValue(after, 'ws_frames_total', 'direction="in",type="send_message"') >= 1)
  t.ok(metricValue(after, 'ws_frames_total', 'direction="out",type="new_message"') >= 1)
  t.ok(metricValue(after, 'message_send_to_deliver_seconds_count') >= 1, 'the latency histogram moved')
  t.ok(metricValue(after, 'broker_published_total', 'channel="conversation"') >= 2)
  t.ok(metricValue(after, 'broker_received_total', 'channel="conversation"') >= 2)
  t.ok(metricValue(after, 'store_operation_duration_seconds_count', 'repository="messages",operation="insertMany",outcome="ok"') >= 2)
})

t.test('connection and delivery metrics: opened, refused by reason, ended by reason, ping round trips, message sizes, dependencies up', async (t) => {
  const built = await buildTestApp(t, { env: FAST_ENV })
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const scrape = async () => (await app.inject('/metrics')).body
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(metricValue(await scrape(), 'dependency_up', 'dependency="store"'), 1, 'the store is up (checked at start)')
  t.equal(metricValue(await scrape(), 'dependency_up', 'dependency="broker"'), 1, 'the broker too')

  const refused = await new Promise<number>((resolve) => {
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`)
    socket.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); socket.terminate() })
    socket.on('error', () => {})
  })
  t.equal(refused, 401, 'a socket without a token is refused before the upgrade')
  const { a, id, ws } = await directWithSocket(t, app, base, 'conn')
  await a.post(`/v1/conversations/${id}/messages`, { content: 'héllo' })
  await ws.waitFor('new_message')
  // Two heartbeats (500 ms each): a ping and its pong.
  await new Promise((resolve) => setTimeout(resolve, 1200))
  ws.close()
  await ws.waitClosed()
  await new Promise((resolve) => setTimeout(resolve, 100))
  const after = await scrape()
  t.equal(metricValue(after, 'ws_connections_opened_total'), 1, 'one socket opened')
  t.equal(metricValue(after, 'ws_connections_refused_total', 'reason="unauthorized"'), 1, 'one refused for want of a token')
  t.equal(metricValue(after, 'ws_disconnects_total', 'reason="client"'), 1, 'one ended by its client')
  t.ok(metricValue(after, 'ws_ping_rtt_seconds_count') >= 1, 'ping round trips measured')
  t.ok(metricValue(after, 'ws_ping_rtt_seconds_sum') < 1, 'in well under a second on loopback')
  t.equal(metricValue(after, 'message_content_bytes_count'), 1, 'one message sized')
  t.equal(metricValue(after, 'message_content_bytes_sum'), 6, 'in UTF-8 bytes (é is two)')
  t.equal(metricValue(after, 'ws_connections'), 0)
})

t.test('broker_received_total counts each message a node receives once, however many handlers it has', async (t) => {
  const built = await buildTestApp(t, { env: FAST_ENV })
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const scrape = async () => metricValue((await app.inject('/metrics')).body, 'broker_received_total', 'channel="conversation"')
  const { a, id, ws } = await directWithSocket(t, app, base, 'recv')
  const before = await scrape()
  for (let i = 0; i < 3; i++) await a.post(`/v1/conversations/${id}/messages`, { content: `m${i}` })
  await ws.waitFor('new_message', () => true, 3)
  t.equal(await scrape() - before, 3, 'three messages on the conversation channel, counted three times')
})

t.test('one message followed across two nodes by its id in the logs', async (t) => {
  const [buildA, buildB] = memoryDeployment(t, 2)
  const logsA: string[] = []
  const logsB: string[] = []
  const nodeA = await buildTestApp(t, { env: FAST_ENV, logs: logsA, build: buildA! })
  const nodeB = await buildTestApp(t, { env: FAST_ENV, logs: logsB, build: buildB! })
  if (nodeA === undefined || nodeB === undefined) return
  const baseB = await nodeB.app.listen({ port: 0, host: '127.0.0.1' })
  const a = client(nodeA.app, await register(nodeA.app, 'trace'))
  const b = client(nodeA.app, await register(nodeA.app, 'trace'))
  const id = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const ws = await WsClient.connect(baseB, b.user.accessToken)
  t.teardown(() => ws.close())
  await ws.roundTrip()
  const sent = await a.post(`/v1/conversations/${id}/messages`, { content: 'follow me' })
  await ws.waitFor('new_message')
  const messageId = sent.body.id as string

  const lines = (logs: string[]) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.messageId === messageId)
  const [stored] = lines(logsA)
  t.match(stored, { msg: 'message stored and published', source: 'rest', requestId: /^[0-9a-f-]{36}$/ })
  const requestLine = logsA.map((l) => JSON.parse(l)).find((l) => l.reqId === stored!.requestId && l.msg === 'incoming request')
  t.match(requestLine?.req, { method: 'POST', url: `/v1/conversations/${id}/messages` }, 'the request id leads to the request')
  const [delivered] = lines(logsB)
  t.match(delivered, { msg: 'message delivered to local sockets', sockets: 1, origin: { requestId: stored!.requestId, nodeId: nodeA.app.broker.nodeId } })
  t.not(delivered!.nodeId, stored!.nodeId, 'logged by the other node')
  const connectionLines = logsB.map((l) => JSON.parse(l)).filter((l) => l.connectionId !== undefined)
  t.ok(connectionLines.length > 0 && connectionLines.every((l) => l.userId === b.user.id), 'the socket\'s lines carry its connection id')
})

t.test('the AsyncAPI document: current, valid, served, and naming every frame the server accepts and sends', async (t) => {
  const built = await buildTestApp(t, { env: FAST_ENV })
  if (built === undefined) return
  const { app } = built
  const served = await app.inject('/docs/asyncapi.yaml')
  t.equal(served.statusCode, 200)
  t.equal(readFileSync(new URL('../openapi/asyncapi.yaml', import.meta.url), 'utf8'), served.body, 'openapi/asyncapi.yaml is current (npm run openapi)')

  const { document, diagnostics } = await new Parser().parse(served.body)
  t.ok(document, 'parsed')
  t.same(diagnostics.filter((d) => d.severity === 0).map((d) => d.message), [], 'no errors')

  const doc = parse(served.body) as { asyncapi: string, components: { messages: Record<string, { name: string }> } }
  t.equal(doc.asyncapi, '3.0.0')
  const documented = (side: string) => Object.keys(doc.components.messages).filter((k) => k.startsWith(`${side}.`)).map((k) => k.slice(side.length + 1))
  t.same(documented('client').sort(), Object.keys(clientFrames(testConfig().messageLimits)).sort())
  t.same(documented('server').sort(), Object.keys(ServerFrames).sort())

  // Every frame type seen on the wire in a busy session is documented.
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const a = client(app, await register(app, 'aa'))
  const b = client(app, await register(app, 'aa'))
  const id = (await a.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [b.user.id] })).body.id
  const wb = await WsClient.connect(base, b.user.accessToken)
  const wa = await WsClient.connect(base, a.user.accessToken)
  t.teardown(() => { wa.close(); wb.close() })
  await wa.roundTrip()
  wa.send({ type: 'send_message', conversationId: id, content: 'x', clientMessageId: 'c' })
  wa.send({ type: 'typing', conversationId: id, isTyping: true })
  wa.send({ type: 'bogus' })
  wb.send({ type: 'read', conversationId: id, seq: 1 })
  wb.send({ type: 'sync' })
  const m = (await wb.waitFor('new_message'))[0]!.message
  await a.patch(`/v1/conversations/${id}/messages/${m.id}`, { content: 'y' })
  await a.del(`/v1/conversations/${id}/messages/${m.id}`)
  await a.patch(`/v1/conversations/${id}`, { name: 'h' })
  await wb.waitFor('conversation_updated')
  await wa.waitFor('receipt')
  const seen = new Set([...wa.frames, ...wb.frames].map((f) => f.type))
  for (const type of seen) t.ok(type in ServerFrames, `${type} is documented`)
  t.ok(seen.size >= 10, `${seen.size} kinds of frame seen`)
})
