/**
 * A resume that misses nothing: a device away while every kind of change
 * happens holds, after one sync, exactly what REST returns; a second sync with
 * the cursors it learnt replays nothing. On memory and on mongo+redis, with
 * two nodes: the changes are made on one, the device comes back to either.
 */
import t from 'tap'
import { client, register, type Client } from '../helper.js'
import { forEachDeployment } from '../realtime/nodes.js'
import { Device, restHolds } from './device.js'

for (const back of ['the node that made the changes', 'the node it was on'] as const) {
  forEachDeployment(t, `a device away while everything changes holds what REST returns after one sync (back on ${back})`, async (t, nodes) => {
    const [a, b] = [nodes[0]!, nodes[1]!]
    const [me, alice, bob, carol] = [await register(a.app, 'me'), await register(a.app, 'alice'), await register(a.app, 'bob'), await register(a.app, 'carol')]
    const api = (u: typeof me): Client => client(a.app, u)
    const [mine, al] = [api(me), api(alice)]
    const direct = (await al.post('/v1/conversations', { type: 'direct', participantIds: [me.id] })).body.id
    const group = (await al.post('/v1/conversations', { type: 'group', name: 'G', participantIds: [me.id, bob.id] })).body.id
    const leaving = (await al.post('/v1/conversations', { type: 'group', name: 'H', participantIds: [me.id] })).body.id
    const sent: string[] = []
    for (const [id, who] of [[direct, al], [direct, mine], [direct, al], [group, al], [leaving, al]] as const) {
      sent.push((await who.post(`/v1/conversations/${id}/messages`, { content: `hello ${sent.length}` })).body.id)
    }
    const device = new Device(() => me.accessToken)
    await device.sync(b.base)
    t.same(device.held(), await restHolds(mine), 'a first sync with no cursors holds everything')

    // Away: every kind of change, made through node A.
    t.equal((await al.patch(`/v1/conversations/${direct}/messages/${sent[0]}`, { content: 'edited while away' })).status, 200)
    t.equal((await mine.del(`/v1/conversations/${direct}/messages/${sent[1]}`)).status, 204, 'deleted from another of my devices')
    await al.post(`/v1/conversations/${direct}/messages`, { content: 'new while away' })
    t.equal((await al.patch(`/v1/conversations/${group}`, { name: 'G renamed' })).status, 200)
    t.equal((await al.del(`/v1/conversations/${group}/participants/${bob.id}`)).status, 204)
    t.equal((await al.post(`/v1/conversations/${group}/participants`, { userIds: [carol.id] })).status, 200)
    await al.post(`/v1/conversations/${group}/messages`, { content: 'after the member changes' })
    const created = (await al.post('/v1/conversations', { type: 'group', name: 'N', participantIds: [me.id] })).body.id
    await al.post(`/v1/conversations/${created}/messages`, { content: 'in the new group' })
    t.equal((await al.del(`/v1/conversations/${leaving}/participants/${me.id}`)).status, 204, 'I am removed from H')

    const cursors = { ...device.cursors }
    await device.sync(back === 'the node it was on' ? b.base : a.base)
    const rest = await restHolds(mine)
    t.same(device.held(), rest, 'after one sync the device holds exactly what REST returns')
    t.notOk(leaving in device.held().conversations, 'the conversation I was removed from is gone')
    const replay = device.lastReplay
    t.ok(replay.some((f) => f.type === 'conversation_removed' && f.conversationId === leaving), 'told with conversation_removed')
    t.ok(replay.some((f) => f.type === 'conversation_updated' && f.conversation.id === created), 'the new conversation is told')
    t.ok(replay.some((f) => f.type === 'conversation_updated' && f.conversation.id === group && f.conversation.name === 'G renamed'), 'and the renamed one')
    t.ok(replay.some((f) => f.type === 'message_updated' && f.message.content === 'edited while away'), 'the edit arrives as message_updated')
    t.ok(replay.some((f) => f.type === 'message_deleted' && f.messageId === sent[1]), 'the deletion as message_deleted')
    const versions = replay.filter((f) => f.type !== 'conversation_updated' && f.type !== 'conversation_removed' && (f.message?.conversationId ?? f.conversationId) === direct)
      .map((f) => f.message?.version ?? f.version)
    t.same(versions, [...versions].sort((x, y) => x - y), 'in version order')
    t.equal(new Set(versions).size, versions.length, 'each change once')
    t.ok(Object.entries(device.cursors).every(([id, v]) => v >= (cursors[id] ?? 0)), 'cursors only move forward')

    await device.sync(a.base)
    t.same(device.lastReplay, [], 'a second sync with the learnt cursors replays nothing')
    t.same(device.held(), rest)
  })
}

forEachDeployment(t, 'a cursor that is a seq works as a version cursor; cursors of conversations I am not in are told removed', async (t, nodes) => {
  const [a] = [nodes[0]!]
  const [me, alice] = [await register(a.app, 'seqc'), await register(a.app, 'seqc')]
  const al = client(a.app, alice)
  const id = (await al.post('/v1/conversations', { type: 'direct', participantIds: [me.id] })).body.id
  const first = (await al.post(`/v1/conversations/${id}/messages`, { content: 'one' })).body
  await al.post(`/v1/conversations/${id}/messages`, { content: 'two' })
  await al.patch(`/v1/conversations/${id}/messages/${first.id}`, { content: 'one, edited' })
  const other = (await al.post('/v1/conversations', { type: 'group', name: 'not mine', participantIds: [(await register(a.app, 'seqc')).id] })).body.id
  const device = new Device(() => me.accessToken)
  device.cursors = { [id]: first.seq, [other]: 0 }
  await device.sync(a.base)
  t.same(device.lastReplay.filter((f) => f.type !== 'conversation_removed').map((f) => [f.type, f.message.content]), [['new_message', 'two'], ['message_updated', 'one, edited']], 'after seq 1: the second message, then the edit of the first')
  t.same(device.lastReplay.filter((f) => f.type === 'conversation_removed').map((f) => f.conversationId), [other])
})
