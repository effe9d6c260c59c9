// Two people chatting through the SDK, from Node 20: run it against a server with
//   CHAT_URL=http://localhost:3000 node two-users.mjs
// (in this repository: `npm run example`; the test command runs it too).
import WebSocket from 'ws'
import { ApiError, ChatClient } from '@chat-backend/client'

const baseUrl = process.env.CHAT_URL ?? 'http://localhost:3000'
const suffix = Date.now().toString(36)
const password = 'correct horse battery'

// One client per person: REST calls (chat.rest) and one live connection (chat.live).
const ada = new ChatClient({ baseUrl, WebSocket })
const bob = new ChatClient({ baseUrl, WebSocket })
await ada.rest.register({ username: `ada_${suffix}`, email: `ada_${suffix}@example.com`, password })
const { user: bobUser } = await bob.rest.register({ username: `bob_${suffix}`, email: `bob_${suffix}@example.com`, password })

// A second device of Bob's would log in instead: by username or email, the same password.
const bobsPhone = new ChatClient({ baseUrl, WebSocket })
await bobsPhone.rest.login({ login: `bob_${suffix}@example.com`, password })

// Bob listens; the SDK tells the server what reached him (delivered receipts) by itself.
const arrived = new Promise((resolve) => bob.live.on('message', resolve))
const edited = new Promise((resolve) => bob.live.on('updated', resolve))
bob.connect()
ada.connect()

// Ada starts a direct conversation with Bob (asking twice answers the same one) and writes.
const conversation = await ada.rest.createConversation({ type: 'direct', participantIds: [bobUser.id] })
const readByBob = new Promise((resolve) => ada.live.on('receipt', (r) => { if (r.kind === 'read') resolve(r) }))
const ack = await ada.live.send({ conversationId: conversation.id, content: 'Hello Bob!' }) // resolves once stored
console.log(`ada sent seq ${ack.seq}`)

const message = await arrived
console.log(`bob got "${message.content}" (seq ${message.seq})`)
await bob.markRead(message.conversationId, message.seq) // ✓✓ read, for Ada
const receipt = await readByBob
console.log(`ada sees bob read up to seq ${receipt.seq}`)

// Edits reach Bob live (and after a reconnect, by sync).
await ada.rest.editMessage(conversation.id, ack.messageId, 'Hello, Bob!')
console.log(`bob sees the edit: "${(await edited).content}"`)

// History pages by seq: the newest page first, then older ones with beforeSeq.
const page = await bobsPhone.rest.messages(conversation.id, { limit: 50 })
console.log(`history: ${page.items.map((m) => m.content).join(' | ')}; more: ${page.hasMore}`)

// Errors carry the contract's code, and the field that was wrong.
try {
  await ada.rest.createConversation({ type: 'direct', participantIds: ['not-an-id'] })
} catch (err) {
  if (!(err instanceof ApiError)) throw err
  console.log(`refused: ${err.statusCode} ${err.code} (field ${err.field})`)
}

// close() ends the live connections and their timers, so the script exits.
for (const client of [ada, bob, bobsPhone]) client.close()
