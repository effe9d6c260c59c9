import t from 'tap'
import { forEachStore, users } from '../helper.js'

const FAKE_ID = 'ffffffffffffffffffffffff'

forEachStore(t, 'direct: the same pair gives the same conversation, from either side and when both ask at once', async (t, app) => {
  const [a, b, c] = await users(app, 3, 'dm')
  const first = await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })
  t.equal(first.status, 201)
  t.match(first.body, { type: 'direct', createdBy: a!.user.id, lastSeq: 0, unreadCount: 0 })
  t.same([...first.body.participantIds].sort(), [a!.user.id, b!.user.id].sort())
  const again = await b!.post('/v1/conversations', { type: 'direct', participantIds: [a!.user.id] })
  t.equal(again.status, 200)
  t.equal(again.body.id, first.body.id)

  const racing = await Promise.all([
    a!.post('/v1/conversations', { type: 'direct', participantIds: [c!.user.id] }),
    c!.post('/v1/conversations', { type: 'direct', participantIds: [a!.user.id] }),
    a!.post('/v1/conversations', { type: 'direct', participantIds: [c!.user.id] }),
    c!.post('/v1/conversations', { type: 'direct', participantIds: [a!.user.id] })
  ])
  t.equal(new Set(racing.map((r) => r.body.id)).size, 1, 'one conversation')
  t.equal(racing.filter((r) => r.status === 201).length, 1, 'created once')
  for (const who of [a!, c!]) {
    const listed = (await who.get('/v1/conversations')).body.items.filter((x: { id: string }) => x.id === racing[0]!.body.id)
    t.equal(listed.length, 1, 'both see it once')
  }
})

forEachStore(t, 'create: bad input gets 400 naming the field', async (t, app) => {
  const [a] = await users(app, 1, 'bad')
  const cases: Array<[unknown, string]> = [
    [{ type: 'direct', participantIds: [a!.user.id] }, 'participantIds'],
    [{ type: 'direct', participantIds: [FAKE_ID] }, 'participantIds'],
    [{ type: 'direct', participantIds: ['nope'] }, 'participantIds.0'],
    [{ type: 'direct', participantIds: [FAKE_ID, FAKE_ID] }, 'participantIds'],
    [{ type: 'group', participantIds: [FAKE_ID] }, 'name'],
    [{ type: 'group', name: 'g', participantIds: [a!.user.id] }, 'participantIds'],
    [{ type: 'group', name: 'g', participantIds: [FAKE_ID] }, 'participantIds'],
    [{ type: 'group', name: 'g', participantIds: [FAKE_ID], extra: 1 }, 'extra'],
    [{ type: 'channel', participantIds: [FAKE_ID] }, 'type']
  ]
  for (const payload of [null, [1], 'direct', 5]) {
    const res = await app.inject({ method: 'POST', url: '/v1/conversations', headers: { ...a!.user.auth, 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
    t.equal(res.statusCode, 400, `body ${JSON.stringify(payload)}`)
  }
  for (const [payload, field] of cases) {
    const res = await a!.post('/v1/conversations', payload)
    t.equal(res.status, 400, JSON.stringify(payload))
    t.equal(res.body.field, field, JSON.stringify(payload))
  }
  t.same((await a!.get('/v1/conversations')).body.items, [], 'nothing half-written')
})

forEachStore(t, 'groups: roles decide who may rename, add, remove; leaving hands ownership on', async (t, app) => {
  const [owner, admin, m1, m2, outsider] = await users(app, 5, 'grp')
  const created = await owner!.post('/v1/conversations', { type: 'group', name: 'Team', participantIds: [admin!.user.id, m1!.user.id] })
  t.equal(created.status, 201)
  const id = created.body.id
  t.equal(created.body.name, 'Team')

  t.equal((await m1!.patch(`/v1/conversations/${id}`, { name: 'Mine' })).status, 403, 'members may not rename')
  t.equal((await admin!.put(`/v1/conversations/${id}/participants/${admin!.user.id}/role`, { role: 'owner' })).status, 403, 'members may not promote themselves')
  const promoted = await owner!.put(`/v1/conversations/${id}/participants/${admin!.user.id}/role`, { role: 'admin' })
  t.equal(promoted.status, 200)
  const renamed = await admin!.patch(`/v1/conversations/${id}`, { name: 'Renamed', avatar: 'https://example.com/t.png' })
  t.match(renamed.body, { name: 'Renamed', avatar: 'https://example.com/t.png' })

  t.equal((await m1!.post(`/v1/conversations/${id}/participants`, { userIds: [m2!.user.id] })).status, 403, 'members may not add')
  const added = await admin!.post(`/v1/conversations/${id}/participants`, { userIds: [m2!.user.id, m1!.user.id] })
  t.equal(added.status, 200)
  t.equal(added.body.participantIds.length, 4)
  t.equal((await m2!.get(`/v1/conversations/${id}`)).status, 200, 'an added user sees it')

  t.equal((await m1!.del(`/v1/conversations/${id}/participants/${m2!.user.id}`)).status, 403, 'members may not remove others')
  t.equal((await admin!.del(`/v1/conversations/${id}/participants/${owner!.user.id}`)).status, 403, 'admins may not remove the owner')
  t.equal((await admin!.del(`/v1/conversations/${id}/participants/${m2!.user.id}`)).status, 204)
  t.equal((await m2!.get(`/v1/conversations/${id}`)).status, 403, 'a removed user is out')
  t.equal((await owner!.del(`/v1/conversations/${id}/participants/${outsider!.user.id}`)).status, 404, 'not a participant')

  t.equal((await owner!.del(`/v1/conversations/${id}/participants/${owner!.user.id}`)).status, 204, 'the owner leaves')
  const roles = (await admin!.get(`/v1/conversations/${id}/participants`)).body.items
  t.equal(roles.find((p: { userId: string }) => p.userId === admin!.user.id).role, 'owner', 'the oldest admin inherits')
  t.equal((await admin!.del(`/v1/conversations/${id}/participants/${admin!.user.id}`)).status, 204)
  const last = (await m1!.get(`/v1/conversations/${id}/participants`)).body.items
  t.same(last.map((p: { role: string }) => p.role), ['owner'], 'with no admin left, the oldest member inherits')
})

forEachStore(t, 'a group has at most GROUP_MAX_PARTICIPANTS', async (t, app) => {
  const [a, b, c, d] = await users(app, 4, 'max')
  const tooMany = await a!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [b!.user.id, c!.user.id, d!.user.id] })
  t.equal(tooMany.status, 400)
  t.equal(tooMany.body.field, 'participantIds')
  const ok = await a!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [b!.user.id, c!.user.id] })
  t.equal(ok.status, 201)
  const add = await a!.post(`/v1/conversations/${ok.body.id}/participants`, { userIds: [d!.user.id] })
  t.equal(add.status, 400)
  t.equal(add.body.field, 'userIds')
}, { env: { GROUP_MAX_PARTICIPANTS: '3' } })

forEachStore(t, 'direct conversations cannot be renamed or joined; nobody leaves them', async (t, app) => {
  const [a, b, c] = await users(app, 3, 'fix')
  const id = (await a!.post('/v1/conversations', { type: 'direct', participantIds: [b!.user.id] })).body.id
  t.equal((await a!.patch(`/v1/conversations/${id}`, { name: 'x' })).status, 403)
  t.equal((await a!.post(`/v1/conversations/${id}/participants`, { userIds: [c!.user.id] })).status, 403)
  t.equal((await a!.del(`/v1/conversations/${id}/participants/${a!.user.id}`)).status, 403)
})

forEachStore(t, 'non-participants get 403 for everything about a conversation; unknown ids 404; malformed ids 400', async (t, app) => {
  const [a, b, mallory] = await users(app, 3, 'idor')
  const id = (await a!.post('/v1/conversations', { type: 'group', name: 'private', participantIds: [b!.user.id] })).body.id
  const msg = (await a!.post(`/v1/conversations/${id}/messages`, { content: 'secret' })).body
  const hook = (await a!.post(`/v1/conversations/${id}/webhooks`, { name: 'h' })).body
  const attempts = [
    mallory!.get(`/v1/conversations/${id}`),
    mallory!.patch(`/v1/conversations/${id}`, { name: 'mine' }),
    mallory!.get(`/v1/conversations/${id}/participants`),
    mallory!.post(`/v1/conversations/${id}/participants`, { userIds: [mallory!.user.id] }),
    mallory!.del(`/v1/conversations/${id}/participants/${b!.user.id}`),
    mallory!.get(`/v1/conversations/${id}/messages`),
    mallory!.post(`/v1/conversations/${id}/messages`, { content: 'hi' }),
    mallory!.patch(`/v1/conversations/${id}/messages/${msg.id}`, { content: 'x' }),
    mallory!.del(`/v1/conversations/${id}/messages/${msg.id}`),
    mallory!.post(`/v1/conversations/${id}/read`, { seq: 1 }),
    mallory!.get(`/v1/conversations/${id}/webhooks`),
    mallory!.post(`/v1/conversations/${id}/webhooks`, { name: 'spy' }),
    mallory!.del(`/v1/conversations/${id}/webhooks/${hook.id}`)
  ]
  for (const res of await Promise.all(attempts)) {
    t.equal(res.status, 403)
    t.equal(res.body.code, 'FORBIDDEN')
  }
  t.notOk((await mallory!.get('/v1/conversations')).body.items.length, 'not listed either')
  const history = (await a!.get(`/v1/conversations/${id}/messages`)).body.items
  t.same(history.map((m: { content: string }) => m.content), ['secret'], 'nothing changed')
  t.equal((await a!.get(`/v1/conversations/${id}/webhooks`)).body.items.length, 1)

  t.equal((await a!.get(`/v1/conversations/${FAKE_ID}`)).status, 404)
  const bad = await a!.get('/v1/conversations/123')
  t.equal(bad.status, 400)
  t.equal(bad.body.field, 'id')
})

forEachStore(t, 'the list: most recent activity first, paged by cursor, each once, with unread counts', async (t, app) => {
  const [me, ...others] = await users(app, 6, 'list')
  const ids: string[] = []
  for (const o of others) ids.push((await me!.post('/v1/conversations', { type: 'direct', participantIds: [o.user.id] })).body.id)
  // Activity in conversation 1 moves it to the top.
  await others[1]!.post(`/v1/conversations/${ids[1]}/messages`, { content: 'one' })
  await others[1]!.post(`/v1/conversations/${ids[1]}/messages`, { content: 'two' })
  const seen: Array<{ id: string, unreadCount: number, lastMessage?: { content: string } }> = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page = await me!.get(`/v1/conversations?limit=2${cursor !== null ? `&cursor=${cursor}` : ''}`)
    t.equal(page.status, 200)
    seen.push(...page.body.items)
    cursor = page.body.nextCursor
    pages++
  } while (cursor !== null && pages < 10)
  t.equal(pages, 3)
  t.same(seen.map((c) => c.id).sort(), [...ids].sort(), 'each once')
  t.equal(seen[0]!.id, ids[1])
  t.equal(seen[0]!.unreadCount, 2)
  t.equal(seen[0]!.lastMessage?.content, 'two')
  const bad = await me!.get('/v1/conversations?cursor=garbage')
  t.equal(bad.status, 400)
  t.equal(bad.body.field, 'cursor')
})
