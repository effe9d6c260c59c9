#!/usr/bin/env node
/**
 * The README's walk-through, run for real: `node scripts/walkthrough.mjs [baseUrl]`
 * against a running server (`npm start`). Each step prints what it did; any
 * surprise exits non-zero. The test suite runs it against a fresh server.
 */
import WebSocket from 'ws'

const base = process.argv[2] ?? 'http://localhost:3000'
const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`

function check (ok, what) {
  if (!ok) throw new Error(`walk-through failed: ${what}`)
  console.log(`ok  ${what}`)
}

async function call (method, path, { token, body, headers = {} } = {}) {
  const res = await fetch(new URL(path, base), {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }), ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) })
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) }
}

function socket (token) {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws?token=${token}`)
  const frames = []
  const waiters = []
  ws.on('message', (data) => { frames.push(JSON.parse(String(data))); for (const w of waiters.splice(0)) w() })
  const next = async (type, where = () => true, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = frames.findIndex((f) => f.type === type && where(f))
      if (i >= 0) return frames.splice(i, 1)[0]
      if (Date.now() > deadline) throw new Error(`no ${type} frame within ${timeoutMs} ms`)
      await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, 100) })
    }
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, next, send: (f) => ws.send(JSON.stringify(f)) }))
    ws.once('error', reject)
  })
}

const ada = await call('POST', '/v1/auth/register', { body: { username: `ada${tag}`, email: `ada${tag}@example.com`, password: 'correct horse' } })
check(ada.status === 201 && ada.body.accessToken, 'register ada: 201 {user, accessToken, refreshToken, expiresIn}')
const bob = await call('POST', '/v1/auth/register', { body: { username: `bob${tag}`, email: `bob${tag}@example.com`, password: 'correct horse' } })
check(bob.status === 201, 'register bob')
const me = await call('GET', '/v1/users/me', { token: ada.body.accessToken })
check(me.status === 200 && me.body.email === `ada${tag}@example.com`, 'GET /v1/users/me')
const refreshed = await call('POST', '/v1/auth/refresh', { body: { refreshToken: ada.body.refreshToken } })
check(refreshed.status === 200 && refreshed.body.refreshToken !== ada.body.refreshToken, 'refresh rotates the refresh token')
const token = refreshed.body.accessToken

const conv = await call('POST', '/v1/conversations', { token, body: { type: 'direct', participantIds: [bob.body.user.id] } })
check(conv.status === 201, 'create a direct conversation: 201')
const again = await call('POST', '/v1/conversations', { token, body: { type: 'direct', participantIds: [bob.body.user.id] } })
check(again.status === 200 && again.body.id === conv.body.id, 'the same pair again: 200, the same conversation')
const id = conv.body.id

const sent = await call('POST', `/v1/conversations/${id}/messages`, { token, body: { content: 'hello' }, headers: { 'idempotency-key': 'my-msg-1' } })
const resent = await call('POST', `/v1/conversations/${id}/messages`, { token, body: { content: 'hello' }, headers: { 'idempotency-key': 'my-msg-1' } })
check(sent.status === 201 && resent.status === 200 && resent.body.id === sent.body.id, 'send with Idempotency-Key: 201, then 200 with the same message')
const history = await call('GET', `/v1/conversations/${id}/messages?limit=50`, { token })
check(history.status === 200 && history.body.items.length === 1 && history.body.hasMore === false, 'history: one message, no more')

const hook = await call('POST', `/v1/conversations/${id}/webhooks`, { token, body: { name: 'CI' } })
check(hook.status === 201 && hook.body.url.includes(hook.body.token), 'create a webhook: its url carries the token')
const posted = await call('POST', new URL(hook.body.url).pathname, { body: { content: 'build passed' } })
check(posted.status === 201 && posted.body.senderId === hook.body.botUserId, 'post through the webhook, no JWT: sent by its bot')

const bobWs = await socket(bob.body.accessToken)
const adaWs = await socket(token)
adaWs.send({ type: 'send_message', conversationId: id, content: 'live hello', clientMessageId: 'c-1' })
const ack = await adaWs.next('message_sent')
check(ack.clientMessageId === 'c-1' && ack.seq === 3, 'websocket send_message: message_sent with seq 3')
const live = await bobWs.next('new_message', (f) => f.message.id === ack.messageId)
check(live.message.content === 'live hello', 'bob receives new_message live')
bobWs.send({ type: 'read', conversationId: id, seq: ack.seq })
const receipt = await adaWs.next('receipt')
check(receipt.kind === 'read' && receipt.seq === 3, 'bob reads: ada gets a read receipt')

bobWs.ws.close()
await call('POST', `/v1/conversations/${id}/messages`, { token, body: { content: 'while you were away 1' } })
await call('POST', `/v1/conversations/${id}/messages`, { token, body: { content: 'while you were away 2' } })
const back = await socket(bob.body.accessToken)
back.send({ type: 'sync', cursors: { [id]: ack.seq } })
const m1 = await back.next('new_message')
const m2 = await back.next('new_message')
const done = await back.next('sync_complete')
check(m1.message.seq === 4 && m2.message.seq === 5 && done.truncated.length === 0, 'reconnect and sync: exactly the 2 missed messages, in order, then sync_complete')

back.ws.close()
adaWs.ws.close()
console.log('walk-through complete')
