import t from 'tap'
import { createMemoryBroker } from '../../src/broker/memory/index.js'
import { createHub, type Connection } from '../../src/realtime/hub.js'
import { createMemoryPresence } from '../../src/presence/memory.js'

t.test('a heartbeat during a slow join does not hide the user\'s first connection', async (t) => {
  const broker = createMemoryBroker()
  t.teardown(() => broker.close())
  const announced: unknown[] = []
  broker.onMessage((m) => { if (m.channel === 'presence') announced.push(m.payload) })
  const hub = createHub({
    broker,
    presence: createMemoryPresence(),
    presenceTtlMs: 10_000,
    conversationIdsOf: async () => { await new Promise((r) => setTimeout(r, 100)); return ['c1'] },
    isParticipant: async () => true
  })
  const conn: Connection = { id: 'conn-1', userId: 'u1', send () {}, write: () => true, close () {} }
  const adding = hub.add(conn)
  await new Promise((r) => setTimeout(r, 20))
  await hub.refreshPresence() // the heartbeat fires while the socket is still joining
  await adding
  t.match(announced, [{ userId: 'u1', status: 'online', conversationIds: ['c1'] }])
  await hub.close()
})
