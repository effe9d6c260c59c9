// A group with three people, in TypeScript: run it against a server with
//   CHAT_URL=http://localhost:3000 npx tsx group.ts
// (the test command type-checks it against the packed SDK and runs it).
import WebSocket from 'ws'
import { ApiError, ChatClient, type Conversation, type LiveMessage, type LiveState } from '@chat-backend/client'

const baseUrl = process.env.CHAT_URL ?? 'http://localhost:3000'
const tag = Math.random().toString(36).slice(2, 8)

async function person (name: string): Promise<ChatClient> {
  const chat = new ChatClient({ baseUrl, WebSocket, live: { deliveredReceipts: true } })
  await chat.rest.register({ username: `${name}_${tag}`, email: `${name}_${tag}@example.com`, password: 'correct horse battery' })
  return chat
}

const [owner, alice, bob] = await Promise.all([person('owner'), person('alice'), person('bob')])
const found = await owner.rest.searchUsers(`alice_${tag}`)
const bobId = (await bob.rest.me()).id
const group: Conversation = await owner.rest.createConversation({ type: 'group', name: `team ${tag}`, participantIds: [found[0]!.id, bobId] })
await owner.rest.setRole(group.id, found[0]!.id, 'admin')

const states: LiveState[] = []
bob.live.on('state', (s) => states.push(s))
const inbox: LiveMessage[] = []
bob.live.on('message', (m) => inbox.push(m))
for (const chat of [owner, alice, bob]) chat.connect()

// Bob's device goes offline; what is written meanwhile arrives once it is back.
await new Promise<void>((resolve) => { const off = bob.live.on('synced', () => { off(); resolve() }) })
bob.live.suspend()
await alice.rest.sendMessage(group.id, { content: 'while you were away', clientMessageId: `a-${tag}` })
const again = await alice.rest.sendMessage(group.id, { content: 'while you were away', clientMessageId: `a-${tag}` })
console.log(`a resend with the same clientMessageId answers the first: seq ${again.seq}`)
const back = new Promise<void>((resolve) => { const off = bob.live.on('synced', () => { off(); resolve() }) })
bob.live.resume()
await back
console.log(`bob: ${states.join(' → ')}; got ${inbox.map((m) => m.content).join(', ')}`)

// Leaving: members may leave, the owner may remove; a stranger gets 403.
await bob.rest.removeParticipant(group.id, bobId)
try {
  await bob.rest.messages(group.id)
} catch (err) {
  if (err instanceof ApiError) console.log(`after leaving: ${err.statusCode} ${err.code}`)
}
for (const chat of [owner, alice, bob]) chat.close()
