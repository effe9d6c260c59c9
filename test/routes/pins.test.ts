/** Pins: roles, idempotence, the list, the bound, deletion unpins, live and through a sync. */
import t from 'tap'
import { client, forEachStore, register, users } from '../helper.js'
import { forEachDeployment } from '../realtime/nodes.js'
import { WsClient } from '../ws-client.js'

forEachStore(t, 'in a group owners and admins pin, members do not; in a direct conversation either; idempotent; newest pin first', async (t, app) => {
  const [owner, admin, member, stranger] = await users(app, 4, 'pin')
  const gid = (await owner!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [admin!.user.id, member!.user.id] })).body.id
  await owner!.put(`/v1/conversations/${gid}/participants/${admin!.user.id}/role`, { role: 'admin' })
  const ids: string[] = []
  for (const c of ['one', 'two', 'three']) ids.push((await member!.post(`/v1/conversations/${gid}/messages`, { content: c })).body.id)
  t.equal((await member!.put(`/v1/conversations/${gid}/pins/${ids[0]}`, undefined)).status, 403, 'a member may not')
  t.equal((await stranger!.put(`/v1/conversations/${gid}/pins/${ids[0]}`, undefined)).status, 403, 'nor a stranger')
  t.equal((await stranger!.get(`/v1/conversations/${gid}/pins`)).status, 403)
  t.equal((await owner!.put(`/v1/conversations/${gid}/pins/${ids[0]}`, undefined)).status, 204)
  t.equal((await owner!.put(`/v1/conversations/${gid}/pins/${ids[0]}`, undefined)).status, 204, 'again: 204')
  t.equal((await admin!.put(`/v1/conversations/${gid}/pins/${ids[2]}`, undefined)).status, 204)
  const pins = (await member!.get(`/v1/conversations/${gid}/pins`)).body.items
  t.same(pins.map((m: { content: string }) => m.content), ['three', 'one'], 'newest pin first, and members read them')
  t.match(pins[0], { pinnedBy: admin!.user.id, pinnedAt: String })
  const history = (await member!.get(`/v1/conversations/${gid}/messages`)).body.items
  t.equal(history[1].pinnedAt, undefined, 'an unpinned message has no pinnedAt')
  t.equal((await admin!.del(`/v1/conversations/${gid}/pins/${ids[0]}`)).status, 204)
  t.equal((await admin!.del(`/v1/conversations/${gid}/pins/${ids[0]}`)).status, 204, 'unpinning twice: 204')
  t.same((await owner!.get(`/v1/conversations/${gid}/pins`)).body.items.map((m: { id: string }) => m.id), [ids[2]])

  const did = (await member!.post('/v1/conversations', { type: 'direct', participantIds: [stranger!.user.id] })).body.id
  const dm = (await stranger!.post(`/v1/conversations/${did}/messages`, { content: 'dm' })).body.id
  t.equal((await member!.put(`/v1/conversations/${did}/pins/${dm}`, undefined)).status, 204, 'either participant of a direct conversation')
  t.equal((await member!.put(`/v1/conversations/${gid}/pins/${dm}`, undefined)).status, 403, 'a member, even with a foreign message')
  t.equal((await owner!.put(`/v1/conversations/${gid}/pins/${dm}`, undefined)).status, 404, 'a message of another conversation')
  t.equal((await owner!.put(`/v1/conversations/${gid}/pins/665f1c2ab4d5e6f7a8b9c0d1`, undefined)).status, 404)
  t.equal((await owner!.put(`/v1/conversations/${gid}/pins/nope`, undefined)).status, 400)
  t.same((await stranger!.get(`/v1/conversations/${did}/pins`)).body.items.map((m: { id: string }) => m.id), [dm])
})

forEachStore(t, 'at most MAX_PINS_PER_CONVERSATION; deleting a pinned message unpins it and makes room', async (t, app) => {
  const [a, b] = await users(app, 2, 'pinmax')
  const cid = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await a!.post(`/v1/conversations/${cid}/messages`, { content: `m${i}` })).body.id)
  t.equal((await a!.put(`/v1/conversations/${cid}/pins/${ids[0]}`, undefined)).status, 204)
  t.equal((await b!.put(`/v1/conversations/${cid}/pins/${ids[1]}`, undefined)).status, 204)
  const third = await a!.put(`/v1/conversations/${cid}/pins/${ids[2]}`, undefined)
  t.equal(third.status, 409)
  t.equal(third.body.code, 'CONFLICT')
  t.equal((await a!.del(`/v1/conversations/${cid}/messages/${ids[0]}`)).status, 204)
  t.same((await a!.get(`/v1/conversations/${cid}/pins`)).body.items.map((m: { id: string }) => m.id), [ids[1]], 'the deleted one is unpinned')
  t.equal((await a!.put(`/v1/conversations/${cid}/pins/${ids[0]}`, undefined)).status, 409, 'a deleted message cannot be pinned')
  t.equal((await a!.put(`/v1/conversations/${cid}/pins/${ids[2]}`, undefined)).status, 204, 'room again')
}, { env: { MAX_PINS_PER_CONVERSATION: '2' } })

forEachDeployment(t, 'a pin goes out as message_updated on every node, and a device away gets it by sync', async (t, nodes) => {
  const [na, nb] = [nodes[0]!, nodes[1]!]
  const a = client(na.app, await register(na.app, 'pinlive'))
  const b = client(na.app, await register(na.app, 'pinlive'))
  const cid = (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
  const sent = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'pin me' })).body
  const live = await WsClient.connect(nb.base, b.user.accessToken)
  t.teardown(() => live.close())
  await live.roundTrip()
  t.equal((await a.put(`/v1/conversations/${cid}/pins/${sent.id}`, undefined)).status, 204)
  const [updated] = await live.waitFor('message_updated')
  t.match(updated!.message, { id: sent.id, pinnedBy: a.user.id, pinnedAt: String })
  t.ok(updated!.message.version > sent.version)
  live.close()
  t.equal((await b.del(`/v1/conversations/${cid}/pins/${sent.id}`)).status, 204)
  const away = await WsClient.connect(nb.base, a.user.accessToken)
  t.teardown(() => away.close())
  away.send({ type: 'sync', cursors: { [cid]: updated!.message.version } })
  await away.waitFor('sync_complete')
  const [later] = away.all('message_updated')
  t.equal(later?.message.id, sent.id)
  t.equal(later?.message.pinnedAt, undefined, 'the unpin, after one sync')
  t.same((await a.get(`/v1/conversations/${cid}/pins`)).body.items, [])
})
