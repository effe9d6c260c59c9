/**
 * The SDK against real servers: refresh on 401, before connecting with an
 * expiring token, and on a 4401 close; reconnect to another node with resend
 * of unacknowledged sends; sync after an absence; deduplication of replays.
 */
import t from 'tap'
import WebSocket from 'ws'
import { ApiError, ChatClient, LiveClient, type LiveMessage } from '../../client/src/index.js'
import { buildTestApp, TEST_JWT_SECRET } from '../helper.js'
import { makeJwt } from '../jwt.js'
import { forEachDeployment, startNodes } from '../realtime/nodes.js'

const WS = WebSocket
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until (what: string, check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

let n = 0
async function signedUp (base: string, liveUrls?: string[]) {
  const c = new ChatClient({ baseUrl: base, WebSocket: WS, ...(liveUrls && { liveUrls }), live: { minDelayMs: 50, maxDelayMs: 500, ackTimeoutMs: 2000 } })
  const name = `sdk${process.pid}x${++n}`
  const session = await c.rest.register({ username: name, email: `${name}@example.test`, password: 'correct horse battery' })
  return { c, user: session.user }
}

t.test('REST: typed calls, contract errors, and a 401 answered by one refresh and a retry', async (t) => {
  const nodes = await startNodes(t, 'memory', 1)
  if (nodes === undefined) return
  const { base } = nodes[0]!
  const { c: ada, user } = await signedUp(base)
  const { user: bob } = await signedUp(base)
  const conversation = await ada.rest.createConversation({ type: 'direct', participantIds: [bob.id] })
  t.equal(conversation.type, 'direct')
  const sent = await ada.rest.sendMessage(conversation.id, { content: 'typed', clientMessageId: 'r-1' })
  t.equal(sent.seq, 1)
  t.same((await ada.rest.messages(conversation.id)).items.map((m) => m.content), ['typed'])
  const err = await ada.rest.conversation('000000000000000000000000').catch((e: unknown) => e)
  t.ok(err instanceof ApiError && err.statusCode === 404 && err.code === 'NOT_FOUND', 'errors carry the contract code')

  const seen: Array<string | null> = []
  const stale = new ChatClient({
    baseUrl: base,
    tokens: { accessToken: makeJwt({ sub: user.id, jti: 'old', iat: 1, exp: 2 }, { secret: TEST_JWT_SECRET }), refreshToken: ada.rest.session!.refreshToken },
    onTokens: (tokens) => seen.push(tokens === null ? null : 'new')
  })
  t.equal((await stale.rest.me()).id, user.id, 'an expired access token is refreshed and the call retried')
  t.same(seen, ['new'], 'the new pair is handed to onTokens')
  const broken = new ChatClient({ baseUrl: base, tokens: { accessToken: 'x.y.z', refreshToken: 'not-a-token' }, onTokens: (tk) => seen.push(tk === null ? null : 'new') })
  const refused = await broken.rest.me().catch((e: unknown) => e)
  t.ok(refused instanceof ApiError && refused.statusCode === 401, 'a refresh that fails ends in 401')
  t.same(seen.at(-1), null, 'and clears the tokens')
})

t.test('reactions: addReaction and removeReaction, the live reaction event once per version, and the message\'s reactions over REST', async (t) => {
  const nodes = await startNodes(t, 'memory', 1)
  if (nodes === undefined) return
  const { base } = nodes[0]!
  const { c: ada, user: adaUser } = await signedUp(base)
  const { c: bob, user: bobUser } = await signedUp(base)
  const { id } = await ada.rest.createConversation({ type: 'direct', participantIds: [bobUser.id] })
  const sent = await ada.rest.sendMessage(id, { content: 'react', clientMessageId: 'rx-1' })
  const got: Array<{ emoji: string, added: boolean, version: number }> = []
  bob.live.on('reaction', (r) => got.push({ emoji: r.emoji, added: r.added, version: r.version }))
  bob.connect()
  t.teardown(() => bob.live.close())
  await until('open', () => bob.live.state === 'open')
  await ada.rest.addReaction(id, sent.id, '👍')
  await ada.rest.addReaction(id, sent.id, '👍')
  await ada.rest.addReaction(id, sent.id, ':ship_it:')
  await ada.rest.removeReaction(id, sent.id, '👍')
  await until('three reaction events', () => got.length === 3)
  t.same(got.map((r) => [r.emoji, r.added]), [['👍', true], [':ship_it:', true], ['👍', false]], 'the repeat changed nothing and was not told')
  t.ok(got[0]!.version < got[1]!.version && got[1]!.version < got[2]!.version, 'each at a later version')
  const [message] = (await bob.rest.messages(id)).items
  t.same(message!.reactions, [{ emoji: ':ship_it:', count: 1, userIds: [adaUser.id] }])
  const refused = await ada.rest.addReaction(id, sent.id, 'not an emoji').catch((e: unknown) => e)
  t.ok(refused instanceof ApiError && refused.statusCode === 400 && refused.field === 'emoji', 'a bad emoji: 400 on its field')

  // Pins, typed: the message comes back as 'updated' with pinnedAt, and in pins().
  const updated: Array<string | undefined> = []
  bob.live.on('updated', (m) => updated.push(m.pinnedAt))
  await bob.rest.pin(id, sent.id)
  t.same((await ada.rest.pins(id)).items.map((m) => [m.id, m.pinnedBy]), [[sent.id, bobUser.id]])
  await until('the pin, live', () => updated.length === 1)
  t.type(updated[0], 'string')
  await ada.rest.unpin(id, sent.id)
  t.same((await bob.rest.pins(id)).items, [])

  // A thread, typed: a reply over the socket and over REST, and the thread paged by itself.
  const overSocket = await bob.live.send({ conversationId: id, content: 'in the thread', threadId: sent.id })
  await ada.rest.sendMessage(id, { content: 'me too', threadId: sent.id, replyTo: overSocket.messageId })
  const thread = await ada.rest.messages(id, { threadId: sent.id })
  t.same(thread.items.map((m) => m.content), ['react', 'in the thread', 'me too'])
  t.equal(thread.items[0]!.thread?.replyCount, 2)
  t.equal(thread.items[2]!.replyTo?.content, 'in the thread')
})

t.test('attachments: upload a Blob (progress, once at the end in Node), send it by id, download it by its signed link and by a bare path', async (t) => {
  const nodes = await startNodes(t, 'memory', 1)
  if (nodes === undefined) return
  const { base } = nodes[0]!
  const { c: ada } = await signedUp(base)
  const { c: bob, user: bobUser } = await signedUp(base)
  const { id } = await ada.rest.createConversation({ type: 'direct', participantIds: [bobUser.id] })
  const bytes = new TextEncoder().encode('a,b\n1,2\n')
  const progress: Array<[number, number]> = []
  const up = await ada.rest.upload(id, new Blob([bytes]), { name: 'table.csv', onProgress: (sent, total) => progress.push([sent, total]) })
  t.match(up, { conversationId: id, name: 'table.csv', type: 'text/plain', size: bytes.length, url: /^\/v1\/attachments\// })
  t.same(progress, [[bytes.length, bytes.length]], 'Node reports the end')
  const sent = await ada.rest.sendMessage(id, { contentType: 'file', content: 'numbers', attachments: [{ id: up.id }] })
  const [att] = (await bob.rest.messages(id)).items.find((m) => m.id === sent.id)!.attachments
  t.equal(att!.id, up.id)
  t.equal(await (await bob.rest.download(att!)).text(), 'a,b\n1,2\n', 'by its signed link')
  t.equal(await (await bob.rest.download({ url: `/v1/attachments/${up.id}` })).text(), 'a,b\n1,2\n', 'a bare path, with the bearer token')
  t.equal(bob.rest.urlOf(att!.url), `${base}${att!.url}`)
  t.equal(bob.rest.urlOf('https://cdn.example.com/x.png'), 'https://cdn.example.com/x.png')
  const refused = await bob.rest.upload('665f1c2ab4d5e6f7a8b9c0d1', new Blob(['x'])).catch((e: unknown) => e)
  t.ok(refused instanceof ApiError && refused.statusCode === 404, 'an unknown conversation: ApiError 404')
  const stranger = await signedUp(base)
  const denied = await stranger.c.rest.download({ url: `/v1/attachments/${up.id}` }).catch((e: unknown) => e)
  t.ok(denied instanceof ApiError && denied.statusCode === 403, 'a stranger without the link: 403')

  // Over the socket: live.send carries uploads too (no caption needed).
  ada.connect()
  t.teardown(() => ada.live.close())
  await until('open', () => ada.live.state === 'open')
  const second = await ada.rest.upload(id, new Blob(['second']), { name: 'b.txt' })
  const ack = await ada.live.send({ conversationId: id, contentType: 'file', attachments: [{ id: second.id }] })
  const live = (await bob.rest.messages(id)).items.find((m) => m.id === ack.messageId)!
  t.same(live.attachments.map((a) => a.id), [second.id], 'sent over the socket, by id')
  t.equal(live.content, '')

  // Search, typed: a hit carries its message and conversation; opening at it is a history call around its seq.
  await ada.rest.sendMessage(id, { content: 'Überraschung am Montag' })
  const found = await bob.rest.search('uberraschung')
  t.same(found.items.map((h) => [h.message.content, h.conversation.id, h.conversation.type]), [['Überraschung am Montag', id, 'direct']])
  t.equal(found.nextCursor, null)
  const around = await bob.rest.messages(id, { beforeSeq: found.items[0]!.message.seq + 1, limit: 2 })
  t.equal(around.items.at(-1)!.id, found.items[0]!.message.id, 'the page that ends at the hit')
  const bad = await bob.rest.search('   ').catch((e: unknown) => e)
  t.ok(bad instanceof ApiError && bad.code === 'VALIDATION_ERROR' && bad.field === 'q', 'a query with nothing to search by: 400 on q')
})

t.test('live: refresh before connecting with an expiring token, and after a 4401 close', async (t) => {
  const nodes = await startNodes(t, 'memory', 1)
  if (nodes === undefined) return
  const { base } = nodes[0]!
  const { c: ada, user } = await signedUp(base)
  const now = Math.floor(Date.now() / 1000)
  // ChatClient: a token that expires within 10 s is refreshed before the socket opens.
  const expiring = new ChatClient({ baseUrl: base, WebSocket: WS, tokens: { accessToken: makeJwt({ sub: user.id, jti: 'soon', iat: now, exp: now + 2 }, { secret: TEST_JWT_SECRET }), refreshToken: ada.rest.session!.refreshToken } })
  expiring.connect()
  t.teardown(() => expiring.live.close())
  await until('open', () => expiring.live.state === 'open')
  await sleep(2500)
  t.equal(expiring.live.state, 'open', 'still open past the old token\'s expiry: it connected with a fresh one')

  // LiveClient alone: the server closes with 4401 when the token expires; onTokenExpired runs, then a reconnect.
  let expired = 0
  const later = Math.floor(Date.now() / 1000)
  const tokens = [makeJwt({ sub: user.id, jti: 'one', iat: later, exp: later + 2 }, { secret: TEST_JWT_SECRET }), ada.rest.accessToken!]
  const live = new LiveClient({ urls: [base], WebSocket: WS, token: () => tokens[Math.min(expired, 1)]!, onTokenExpired: () => { expired++ }, minDelayMs: 50 })
  t.teardown(() => live.close())
  live.start()
  await until('4401 and reconnect', () => expired === 1 && live.state === 'open' && live.stats.reconnects === 1, 5000)
  t.pass('closed with 4401, refreshed, reconnected')
})

t.test('live: when the session ends on the server, the socket is closed with 4401 and the client stops, tokens cleared', async (t) => {
  const nodes = await startNodes(t, 'memory', 1)
  if (nodes === undefined) return
  const { base } = nodes[0]!
  const { c: ada } = await signedUp(base)
  const seen: Array<string | null> = []
  const device = new ChatClient({ baseUrl: base, WebSocket: WS, tokens: ada.rest.session!, onTokens: (tokens) => seen.push(tokens === null ? null : 'new') })
  device.connect()
  t.teardown(() => device.live.close())
  await until('open', () => device.live.state === 'open')
  await ada.logout() // the same session, ended from elsewhere
  await until('closed', () => device.live.state === 'closed', 5000)
  t.same(seen, [null], 'the refused refresh clears the tokens')
  await sleep(300)
  t.equal(device.live.state, 'closed', 'and it does not reconnect')
})

forEachDeployment(t, 'live: a node goes away; sends made meanwhile are resent to another node and stored once; sync fills the gap', async (t, nodes) => {
  const [a, b] = [nodes[0]!, nodes[1]!]
  const { c: ada } = await signedUp(a.base, [a.base, b.base])
  const { c: bob, user: bobUser } = await signedUp(a.base, [b.base])
  const { id } = await ada.rest.createConversation({ type: 'direct', participantIds: [bobUser.id] })
  const got: LiveMessage[] = []
  bob.live.on('message', (m) => got.push(m))
  const adaStates: string[] = []
  ada.live.on('state', (s) => adaStates.push(s))
  ada.connect()
  bob.connect()
  t.teardown(() => { ada.live.close(); bob.live.close() })
  await until('both open', () => ada.live.state === 'open' && bob.live.state === 'open')
  await ada.live.send({ conversationId: id, content: 'before' })

  // Node A drops Ada's socket (as a dying node does); she keeps sending while reconnecting.
  for (const conn of a.app.realtime.hub.connections()) conn.close(1012, 'going away')
  const acks = await Promise.all([1, 2, 3].map((i) => ada.live.send({ conversationId: id, content: `during ${i}`, clientMessageId: `d-${i}` })))
  t.equal(ada.live.stats.reconnects, 1, 'reconnected once, to the next node')
  t.same(adaStates.slice(-2), ['reconnecting', 'open'], 'through the reconnecting state')
  t.same(acks.map((x) => x.seq), [2, 3, 4], 'each send acknowledged once, in order')
  await until('bob has all', () => got.length === 4)
  t.same(got.map((m) => m.content), ['before', 'during 1', 'during 2', 'during 3'], 'the other side got each once, in order')

  // Bob goes away; Ada writes; Bob comes back and syncs exactly the gap.
  bob.live.suspend()
  for (const i of [1, 2, 3, 4, 5]) await ada.live.send({ conversationId: id, content: `missed ${i}` })
  bob.live.resume()
  await until('bob caught up', () => got.length === 9)
  const missed = got.slice(4)
  t.same(missed.map((m) => m.content), ['missed 1', 'missed 2', 'missed 3', 'missed 4', 'missed 5'], 'the sync replays what was missed')
  t.ok(missed.every((m, i) => i === 0 || m.seq > missed[i - 1]!.seq), 'in seq order (resends before may have left gaps)')

  // A replay of everything (a stale cursor) is deduplicated: nothing is handed over twice.
  const dropped = bob.live.stats.duplicatesDropped
  let done = false
  const off = bob.live.on('synced', () => { done = true })
  bob.live.sendFrame({ type: 'sync', cursors: { [id]: 0 } })
  await until('replay', () => done)
  off()
  t.equal(got.length, 9, 'no message twice')
  t.equal(bob.live.stats.duplicatesDropped - dropped, 9, 'all nine replays were dropped')
  const history = await ada.rest.messages(id)
  t.same(history.items.map((m) => m.clientMessageId).filter((cid) => cid?.startsWith('d-')), ['d-1', 'd-2', 'd-3'], 'history holds each resend once')
})

t.test('delivered receipts are sent by default (and not when turned off); a read is one call', async (t) => {
  const nodes = await startNodes(t, 'memory', 1)
  if (nodes === undefined) return
  const { base } = nodes[0]!
  const { c: ada } = await signedUp(base)
  const { c: bob, user: bobUser } = await signedUp(base)
  const { c: quiet, user: quietUser } = await signedUp(base)
  quiet.live.close()
  const silent = new ChatClient({ baseUrl: base, WebSocket: WS, tokens: quiet.rest.session!, live: { deliveredReceipts: false } })
  t.teardown(() => { for (const c of [ada, bob, silent]) c.close() })
  const receipts: Array<{ userId: string, kind: string, seq: number }> = []
  ada.live.on('receipt', (r) => receipts.push(r))
  for (const c of [ada, bob, silent]) c.connect()
  await until('all open', () => [ada, bob, silent].every((c) => c.live.state === 'open'))
  const toBob = await ada.rest.createConversation({ type: 'direct', participantIds: [bobUser.id] })
  const toQuiet = await ada.rest.createConversation({ type: 'direct', participantIds: [quietUser.id] })
  await ada.live.send({ conversationId: toBob.id, content: 'one' })
  await ada.live.send({ conversationId: toBob.id, content: 'two' })
  await ada.live.send({ conversationId: toQuiet.id, content: 'unseen ticks' })
  await until('delivered from bob', () => receipts.some((r) => r.userId === bobUser.id && r.kind === 'delivered' && r.seq === 2))
  t.pass('bob\'s client reported both messages delivered by itself')
  await sleep(800)
  t.notOk(receipts.some((r) => r.userId === quietUser.id), 'a client with deliveredReceipts: false reports nothing')
  await bob.markRead(toBob.id, 2)
  await until('read from bob', () => receipts.some((r) => r.userId === bobUser.id && r.kind === 'read' && r.seq === 2))
  t.same((await ada.rest.messages(toBob.id)).items.map((m) => m.readBy.map((x) => x.userId)), [[bobUser.id], [bobUser.id]], 'and REST shows it')
})

t.test('states say what is happening: suspended is not reconnecting; close() ends in closed', async (t) => {
  const nodes = await startNodes(t, 'memory', 1)
  if (nodes === undefined) return
  const { c } = await signedUp(nodes[0]!.base)
  const states: string[] = []
  c.live.on('state', (s) => states.push(s))
  c.connect()
  await until('open', () => c.live.state === 'open')
  c.live.suspend()
  t.equal(c.live.state, 'suspended')
  c.live.resume()
  await until('open again', () => c.live.state === 'open')
  c.close()
  t.same(states, ['connecting', 'open', 'suspended', 'reconnecting', 'open', 'closed'])
})

t.test('ApiError carries the contract\'s field, and the retry delay of a 429', async (t) => {
  const built = await buildTestApp(t, { env: { RATE_LIMIT_LOGIN_NAME: '1/60000' } })
  if (built === undefined) return
  const base = await built.app.listen({ port: 0, host: '127.0.0.1' })
  const c = new ChatClient({ baseUrl: base, WebSocket: WS })
  const bad = await c.rest.register({ username: 'fine_name', email: 'not-an-email', password: 'correct horse battery' }).catch((e: unknown) => e)
  t.ok(bad instanceof ApiError)
  t.match(bad, { statusCode: 400, code: 'VALIDATION_ERROR', field: 'email' })
  await c.rest.login({ login: 'nobody', password: 'wrong password' }).catch(() => {})
  const limited = await c.rest.login({ login: 'nobody', password: 'wrong password' }).catch((e: unknown) => e)
  t.match(limited, { statusCode: 429, code: 'RATE_LIMITED' })
  t.ok((limited as ApiError).retryAfter! > 0, `retryAfter ${(limited as ApiError).retryAfter} s`)
})

t.test('bots and outgoing events through the SDK: a bot acts with its API key alone; the admin client reads the delivery log', async (t) => {
  const nodes = await startNodes(t, 'memory', 1, { ADMIN_API_TOKEN: 'admin-token-for-tests-0123456789abcdef', EVENT_ENDPOINTS_ALLOW_PRIVATE: 'true', EVENT_POLL_INTERVAL_MS: '50' })
  if (nodes === undefined) return
  const { base } = nodes[0]!
  const { startReceiver } = await import('../receiver.js')
  const { AdminClient } = await import('../../client/src/index.js')
  const receiver = await startReceiver(t)
  const admin = new AdminClient({ baseUrl: base, token: 'admin-token-for-tests-0123456789abcdef' })
  const endpoint = await admin.createEndpoint({ url: receiver.url, events: ['message.created'] })
  t.match(endpoint, { events: ['message.created'], secret: /^whsec_/ })
  t.same((await admin.endpoints()).map((e) => e.id), [endpoint.id])
  const { c: owner, user } = await signedUp(base)
  const created = await owner.rest.createBot({ username: `sdkbot${process.pid}`, name: 'SDK bot' })
  t.equal(created.bot.bot, true)
  const conversation = await owner.rest.createConversation({ type: 'group', name: 'bots', participantIds: [created.bot.id] })
  const bot = new ChatClient({ baseUrl: base, apiKey: created.apiKey, WebSocket: WS, live: { minDelayMs: 50, maxDelayMs: 500, ackTimeoutMs: 2000 } })
  t.equal((await bot.rest.me()).id, created.bot.id, 'REST as the bot')
  await bot.connect()
  t.teardown(() => bot.disconnect())
  const sent = await bot.live.send({ conversationId: conversation.id, content: 'hello from the bot', clientMessageId: 'bot-sdk-1' })
  t.ok(sent.messageId, 'and live')
  await receiver.until((es) => es.some((e) => e.data.id === sent.messageId && e.data.senderId === created.bot.id))
  t.equal(receiver.verified(endpoint.secret).length, receiver.received.length, 'signed with the secret the admin client was given')
  let log = await admin.deliveries(endpoint.id)
  for (let i = 0; i < 250 && log.items.some((d) => d.status !== 'delivered'); i++) { await sleep(20); log = await admin.deliveries(endpoint.id) }
  t.match(log.items, [{ type: 'message.created', status: 'delivered', attempts: 1 }])
  await owner.rest.revokeBot(created.bot.id)
  t.match(await owner.rest.bots(), [{ revoked: true }])
  const err = await bot.rest.me().catch((e: unknown) => e)
  t.ok(err instanceof ApiError && err.statusCode === 401, 'a revoked bot\'s calls are refused')
  await admin.deleteEndpoint(endpoint.id)
  t.same(await admin.endpoints(), [])
  t.ok(user.id)
})
