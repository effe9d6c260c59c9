/**
 * Sync in bounded batches: a user in many conversations with more to replay
 * than a socket's send buffer holds resumes in several batches (sync_complete
 * with hasMore), is never closed as a slow consumer, and ends up holding what
 * REST returns.
 */
import t from 'tap'
import { buildTestApp, client, register } from '../helper.js'
import { Device, restHolds } from './device.js'

const cases = [
  { store: 'memory' as const, conversations: 1000, size: 1500 },
  { store: 'mongo' as const, conversations: 110, size: 9000 }
]

for (const { store, conversations, size } of cases) {
  t.test(`a user in ${conversations} conversations, ${Math.round(conversations * size / 1024)} kB to replay, resumes in batches [${store}]`, async (t) => {
    // One author starts every group and sends into each within seconds: past production's 60 an hour and 60 a minute.
    const built = await buildTestApp(t, { store, env: { RATE_LIMIT_SEND_GROUP: `${conversations}/60000`, RATE_LIMIT_CONVERSATION_CREATE: `${conversations}/3600000`, WS_MAX_BUFFERED_BYTES: '1048576' } })
    if (built === undefined) return
    const { app } = built
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const [me, alice] = [await register(app, 'many'), await register(app, 'many')]
    const al = client(app, alice)
    const ids: string[] = []
    for (let i = 0; i < conversations; i++) {
      const id = (await al.post('/v1/conversations', { type: 'group', name: `g${i}`, participantIds: [me.id] })).body.id
      ids.push(id)
      t.equal((await al.post(`/v1/conversations/${id}/messages`, { content: `${i} `.padEnd(size, 'x') })).status, 201)
    }
    const device = new Device(() => me.accessToken)
    await device.sync(base)
    t.ok(device.batches > 1, `${device.batches} batches`)
    const held = device.held()
    t.equal(Object.keys(held.conversations).length, conversations, 'every conversation')
    t.equal(Object.values(held.messages).reduce((n, m) => n + Object.keys(m).length, 0), conversations, 'every message, once')
    t.same(held, await restHolds(client(app, me)), 'what REST returns')
    await device.sync(base)
    t.same(device.lastReplay, [], 'and a second sync replays nothing')
  })
}
