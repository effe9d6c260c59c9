/** Mentions: parsed on the server for participants, @all for owners and admins of groups, and an unread mention count that never drifts. */
import t from 'tap'
import { forEachStore, users } from '../helper.js'

forEachStore(t, '@username of a participant is a mention; of a stranger, of myself or inside a word it is text; edits and deletions keep the count true', async (t, app) => {
  const [a, b, c, stranger] = await users(app, 4, 'men')
  const gid = (await a!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [b!.user.id, c!.user.id] })).body.id
  const send = async (who: typeof a, content: string) => (await who!.post(`/v1/conversations/${gid}/messages`, { content })).body
  const m1 = await send(a, `hi @${b!.user.username.toUpperCase()} and @${c!.user.username}, not @${stranger!.user.username} nor @${a!.user.username} nor x@${b!.user.username}`)
  t.same(m1.mentions, [b!.user.id, c!.user.id], 'participants by name, whatever the case, in order')
  t.equal(m1.mentionsAll, undefined)
  const m2 = await send(c, `@${b!.user.username}: see above.`)
  t.same(m2.mentions, [b!.user.id])
  const count = async (who: typeof a) => (await who!.get(`/v1/conversations/${gid}`)).body.unreadMentionCount
  t.equal(await count(b), 2)
  t.equal(await count(c), 1)
  t.equal(await count(a), 0, 'my own messages never count')
  const listed = (await b!.get('/v1/conversations')).body.items.find((x: { id: string }) => x.id === gid)
  t.equal(listed.unreadMentionCount, 2, 'and in the list')

  const edited = await c!.patch(`/v1/conversations/${gid}/messages/${m2.id}`, { content: 'no one now' })
  t.same(edited.body.mentions, [], 'an edit that drops the mention')
  t.equal(await count(b), 1, 'stops it counting')
  t.same((await c!.patch(`/v1/conversations/${gid}/messages/${m2.id}`, { content: `back @${b!.user.username}` })).body.mentions, [b!.user.id])
  t.equal(await count(b), 2, 'and an edit that adds one counts it')
  await a!.del(`/v1/conversations/${gid}/messages/${m1.id}`)
  t.equal(await count(b), 1, 'a deleted message stops counting')
  await b!.post(`/v1/conversations/${gid}/read`, { seq: m2.seq })
  t.equal(await count(b), 0, 'read: none unread')
})

forEachStore(t, '@all in a group by an owner or admin mentions everyone; by a member, or in a direct conversation, it is text', async (t, app) => {
  const [owner, admin, member] = await users(app, 3, 'menall')
  const gid = (await owner!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [admin!.user.id, member!.user.id] })).body.id
  await owner!.put(`/v1/conversations/${gid}/participants/${admin!.user.id}/role`, { role: 'admin' })
  const send = async (who: typeof owner, content: string, cid = gid) => (await who!.post(`/v1/conversations/${cid}/messages`, { content })).body
  t.equal((await send(owner, 'hello @all')).mentionsAll, true)
  t.equal((await send(admin, '@ALL again')).mentionsAll, true)
  t.equal((await send(member, 'me too @all')).mentionsAll, undefined, 'a member\'s @all stays text')
  t.equal((await member!.get(`/v1/conversations/${gid}`)).body.unreadMentionCount, 2)
  t.equal((await owner!.get(`/v1/conversations/${gid}`)).body.unreadMentionCount, 1, 'the admin\'s @all counts for the owner')
  const did = (await owner!.post('/v1/conversations', { type: 'direct', participantIds: [member!.user.id] })).body.id
  t.equal((await send(owner, '@all in a direct', did)).mentionsAll, undefined)
})
