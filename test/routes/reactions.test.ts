/** Reactions: idempotent add and remove, aggregated on the message, bounded, live, through a sync, and none lost when many react at once on two nodes. */
import t from 'tap'
import { buildTestApp, client, forEachStore, register, users } from '../helper.js'
import { forEachDeployment, memoryDeployment } from '../realtime/nodes.js'
import { WsClient } from '../ws-client.js'

const path = (cid: string, mid: string, emoji: string) => `/v1/conversations/${cid}/messages/${mid}/reactions/${encodeURIComponent(emoji)}`

forEachStore(t, 'add and remove are idempotent and the message carries them, by emoji in first-use order', async (t, app) => {
  const [a, b] = await users(app, 2, 'rx')
  const cid = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const mid = (await a!.post(`/v1/conversations/${cid}/messages`, { content: 'react to me' })).body.id
  const version = async () => (await a!.get(`/v1/conversations/${cid}/messages`)).body.items[0]
  const before = (await version()).version
  t.equal((await a!.put(path(cid, mid, '👍'), undefined)).status, 204)
  t.equal((await a!.put(path(cid, mid, '👍'), undefined)).status, 204, 'again: still 204')
  t.equal((await b!.put(path(cid, mid, '👍'), undefined)).status, 204)
  t.equal((await b!.put(path(cid, mid, ':tada:'), undefined)).status, 204)
  t.equal((await b!.put(path(cid, mid, '👍🏽'), undefined)).status, 204, 'a skin tone is one emoji')
  let m = await version()
  t.same(m.reactions, [
    { emoji: '👍', count: 2, userIds: [a!.user.id, b!.user.id] },
    { emoji: ':tada:', count: 1, userIds: [b!.user.id] },
    { emoji: '👍🏽', count: 1, userIds: [b!.user.id] }
  ])
  t.ok(m.version > before, 'the message moved to a new version')
  const after = m.version
  t.equal((await a!.put(path(cid, mid, '👍'), undefined)).status, 204)
  t.equal((await version()).version, after, 'an add that changes nothing takes no version')
  t.equal((await a!.del(path(cid, mid, '👍'))).status, 204)
  t.equal((await a!.del(path(cid, mid, '👍'))).status, 204, 'removing twice: 204')
  m = await version()
  t.same(m.reactions[0], { emoji: '👍', count: 1, userIds: [b!.user.id] })
  t.equal((await a!.del(path(cid, mid, '❤️'))).status, 204, 'removing one never added: 204')
})

forEachStore(t, 'bad emoji, strangers, foreign and unknown ids, deleted messages and the bounds are refused, and nothing changes', async (t, app) => {
  const [a, b, stranger] = await users(app, 3, 'rxbad')
  const cid = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const other = (await stranger!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const mid = (await a!.post(`/v1/conversations/${cid}/messages`, { content: 'x' })).body.id
  const foreign = (await stranger!.post(`/v1/conversations/${other}/messages`, { content: 'y' })).body.id
  for (const bad of ['a', 'ab', '👍👍', ':Tada:', `:${'x'.repeat(63)}:`, '::', ' ', '<b>']) {
    const res = await a!.put(path(cid, mid, bad), undefined)
    t.equal(res.status, 400, JSON.stringify(bad))
    t.match(res.body, { code: 'VALIDATION_ERROR' })
  }
  t.equal((await stranger!.put(path(cid, mid, '👍'), undefined)).status, 403, 'a stranger')
  t.equal((await a!.put(path(cid, foreign, '👍'), undefined)).status, 404, 'a message of another conversation')
  t.equal((await a!.put(path(cid, '665f1c2ab4d5e6f7a8b9c0d1', '👍'), undefined)).status, 404, 'an unknown message')
  t.equal((await a!.put(path('665f1c2ab4d5e6f7a8b9c0d1', mid, '👍'), undefined)).status, 404, 'an unknown conversation')
  t.equal((await a!.put(`/v1/conversations/${cid}/messages/not-an-id/reactions/x`, undefined)).status, 400)
  t.same((await b!.get(`/v1/conversations/${other}/messages`)).body.items[0].reactions, [], 'nothing on the foreign message')

  // Bounds: 10 reactions per user per message, 20 distinct emoji per message.
  const shortcodes = Array.from({ length: 21 }, (_, i) => `:e${i}:`)
  for (const e of shortcodes.slice(0, 10)) t.equal((await a!.put(path(cid, mid, e), undefined)).status, 204)
  const eleventh = await a!.put(path(cid, mid, shortcodes[10]!), undefined)
  t.equal(eleventh.status, 409, 'an eleventh of mine')
  t.equal(eleventh.body.code, 'CONFLICT')
  for (const e of shortcodes.slice(10, 20)) t.equal((await b!.put(path(cid, mid, e), undefined)).status, 204)
  t.equal((await b!.put(path(cid, mid, shortcodes[20]!), undefined)).status, 409, 'a 21st distinct emoji')
  t.equal((await b!.put(path(cid, mid, shortcodes[0]!), undefined)).status, 409, 'b is at 10 too')
  t.equal((await a!.get(`/v1/conversations/${cid}/messages`)).body.items[0].reactions.length, 20)

  t.equal((await a!.del(`/v1/conversations/${cid}/messages/${mid}`)).status, 204)
  t.equal((await b!.put(path(cid, mid, '👍'), undefined)).status, 409, 'a deleted message takes no reaction')
  t.same((await a!.get(`/v1/conversations/${cid}/messages`)).body.items[0].reactions, [], 'and shows none')
}, { env: { RATE_LIMIT_REACTION: '1000/60000' } })

forEachDeployment(t, 'live reaction frames reach every device on any node; a device away gets the message in its state now by sync', async (t, nodes) => {
  const [na, nb] = [nodes[0]!, nodes[1]!]
  const a = client(na.app, await register(na.app, 'rxlive'))
  const b = client(na.app, await register(na.app, 'rxlive'))
  const cid = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const sent = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'live' })).body
  const bLive = await WsClient.connect(nb.base, b.user.accessToken)
  const aOther = await WsClient.connect(na.base, a.user.accessToken)
  t.teardown(() => { bLive.close(); aOther.close() })
  await bLive.roundTrip()
  await aOther.roundTrip()
  t.equal((await a.put(path(cid, sent.id, '🎉'), undefined)).status, 204)
  const [frame] = await bLive.waitFor('reaction')
  t.match(frame, { conversationId: cid, messageId: sent.id, emoji: '🎉', userId: a.user.id, added: true })
  t.ok(frame!.version > sent.version)
  await aOther.waitFor('reaction', (f) => f.emoji === '🎉')
  t.pass('the reactor\'s other device hears it too')

  // Away from a cursor at the send: one sync brings the message with its reactions now.
  await b.put(path(cid, sent.id, '👀'), undefined)
  await a.del(path(cid, sent.id, '🎉'))
  const away = await WsClient.connect(nb.base, b.user.accessToken)
  t.teardown(() => away.close())
  away.send({ type: 'sync', cursors: { [cid]: sent.version } })
  await away.waitFor('sync_complete')
  const [updated] = away.all('message_updated')
  t.same(updated?.message.reactions, [{ emoji: '👀', count: 1, userIds: [b.user.id] }], 'the REST state after one sync')
  t.same(updated?.message.reactions, (await a.get(`/v1/conversations/${cid}/messages`)).body.items[0].reactions)
})

forEachDeployment(t, '100 users reacting at once from two nodes: no reaction lost', async (t, nodes) => {
  const [na, nb] = [nodes[0]!, nodes[1]!]
  const owner = client(na.app, await register(na.app, 'rxmany'))
  const people = await Promise.all(Array.from({ length: 99 }, async (_, i) => client(i % 2 === 0 ? na.app : nb.app, await register(na.app, 'rxmany'))))
  const gid = (await owner.post('/v1/conversations', { type: 'group', name: 'many', participantIds: people.map((p) => p.user.id) })).body.id
  const mid = (await owner.post(`/v1/conversations/${gid}/messages`, { content: 'vote' })).body.id
  const everyone = [owner, ...people]
  const codes = await Promise.all(everyone.map((p, i) => p.put(path(gid, mid, i % 2 === 0 ? '👍' : '👎'), undefined).then((r) => r.status)))
  t.same([...new Set(codes)], [204])
  const m = (await owner.get(`/v1/conversations/${gid}/messages`)).body.items[0]
  t.same(m.reactions.map((r: { emoji: string, count: number }) => [r.emoji, r.count]).sort(), [['👍', 50], ['👎', 50]], 'every one counted')
  const both = (await Promise.all(everyone.map((p, i) => p.put(path(gid, mid, i % 2 === 0 ? '👎' : '👍'), undefined).then((r) => r.status))))
  t.same([...new Set(both)], [204])
  const after = (await owner.get(`/v1/conversations/${gid}/messages`)).body.items[0]
  t.same(after.reactions.map((r: { count: number }) => r.count), [100, 100], 'and a second wave, each user now with both')
})

t.test('a deletion that another node\'s later change (a reaction) overtook is made again above it, never dropped', async (t) => {
  const builds = memoryDeployment(t, 2)
  const store = builds[0]!.store!.store!
  // Node A's tombstone waits until node B's reaction, which takes a later version, has landed.
  const tombstone = store.messages.tombstone.bind(store.messages)
  let gate: Promise<void> | undefined
  let release = () => {}
  store.messages.tombstone = async (...args) => { if (gate !== undefined) { const g = gate; gate = undefined; await g } return tombstone(...args) }
  const apps = []
  for (const build of builds) {
    const built = await buildTestApp(t, { build })
    if (built === undefined) return
    apps.push(built.app)
  }
  const [na, nb] = apps as [typeof apps[0], typeof apps[0]]
  const a = client(na, await register(na, 'overtake'))
  const b = client(nb, await register(na, 'overtake'))
  const cid = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const mid = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'going' })).body.id
  gate = new Promise((resolve) => { release = resolve })
  const deleting = a.del(`/v1/conversations/${cid}/messages/${mid}`)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal((await b.put(path(cid, mid, '👍'), undefined)).status, 204, 'the reaction lands first, at a later version')
  release()
  t.equal((await deleting).status, 204)
  const [m] = (await b.get(`/v1/conversations/${cid}/messages`)).body.items
  t.ok(m.deletedAt !== undefined, 'the message is deleted')
  t.equal(m.content, '')
})
