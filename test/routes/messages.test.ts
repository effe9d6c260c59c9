import t from 'tap'
import { forEachStore, users, type Client } from '../helper.js'

async function direct (a: Client, b: Client): Promise<string> {
  return (await a.post('/v1/conversations', { type: 'direct', participantIds: [b.user.id] })).body.id
}

forEachStore(t, '250 messages paged back and forward by 50: each seq exactly once, in order', async (t, app) => {
  const [a, b] = await users(app, 2, 'page')
  const id = await direct(a!, b!)
  for (let i = 1; i <= 250; i++) {
    const res = await (i % 2 === 0 ? a! : b!).post(`/v1/conversations/${id}/messages`, { content: `m${i}` })
    if (res.status !== 201) t.fail(`send ${i}: ${res.status}`)
  }
  const back: number[] = []
  let page = (await a!.get(`/v1/conversations/${id}/messages?limit=50`)).body
  back.unshift(...page.items.map((m: { seq: number }) => m.seq))
  while (page.hasMore) {
    page = (await a!.get(`/v1/conversations/${id}/messages?limit=50&beforeSeq=${back[0]}`)).body
    t.ok(page.items.length <= 50)
    back.unshift(...page.items.map((m: { seq: number }) => m.seq))
  }
  t.same(back, Array.from({ length: 250 }, (_, i) => i + 1), 'backwards: 1..250')

  const fwd: number[] = []
  let after = 0
  for (;;) {
    const p = (await b!.get(`/v1/conversations/${id}/messages?limit=50&afterSeq=${after}`)).body
    fwd.push(...p.items.map((m: { seq: number }) => m.seq))
    if (!p.hasMore) break
    after = fwd[fwd.length - 1]!
  }
  t.same(fwd, back, 'forwards: the same')
  const newest = (await a!.get(`/v1/conversations/${id}/messages`)).body
  t.equal(newest.items.length, 50, 'default limit 50')
  t.equal(newest.items[49].content, 'm250')
  for (const q of ['limit=0', 'limit=101', 'beforeSeq=-1', 'afterSeq=x', 'afterSeq=10&beforeSeq=5', 'other=1']) {
    t.equal((await a!.get(`/v1/conversations/${id}/messages?${q}`)).status, 400, q)
  }
}, { env: { RATE_LIMIT_SEND_DIRECT: '200/60000' } }) // each user sends 125 messages within seconds: over production's 120 a minute

forEachStore(t, 'idempotent sends: clientMessageId or Idempotency-Key; racing resends create one message', async (t, app) => {
  const [a, b] = await users(app, 2, 'idem')
  const id = await direct(a!, b!)
  const first = await a!.post(`/v1/conversations/${id}/messages`, { content: 'once', clientMessageId: 'c-1' })
  t.equal(first.status, 201)
  const again = await a!.post(`/v1/conversations/${id}/messages`, { content: 'once', clientMessageId: 'c-1' })
  t.equal(again.status, 200)
  t.equal(again.body.id, first.body.id)
  t.equal(again.body.seq, first.body.seq)

  const byHeader = await a!.post(`/v1/conversations/${id}/messages`, { content: 'hdr' }, { 'idempotency-key': 'k-1' })
  const byHeaderAgain = await a!.post(`/v1/conversations/${id}/messages`, { content: 'hdr' }, { 'idempotency-key': 'k-1' })
  t.equal(byHeader.status, 201)
  t.equal(byHeaderAgain.status, 200)
  t.equal(byHeaderAgain.body.id, byHeader.body.id)
  t.equal(byHeader.body.clientMessageId, 'k-1')
  t.equal((await a!.post(`/v1/conversations/${id}/messages`, { content: 'x', clientMessageId: 'a' }, { 'idempotency-key': 'b' })).status, 400)

  const other = await b!.post(`/v1/conversations/${id}/messages`, { content: 'same id, other sender', clientMessageId: 'c-1' })
  t.equal(other.status, 201, 'ids are per sender')

  const race = await Promise.all(Array.from({ length: 8 }, () => a!.post(`/v1/conversations/${id}/messages`, { content: 'race', clientMessageId: 'race-1' })))
  t.equal(new Set(race.map((r) => r.body.id)).size, 1, 'one message')
  t.equal(race.filter((r) => r.status === 201).length, 1)
  const history = (await a!.get(`/v1/conversations/${id}/messages`)).body.items
  t.equal(history.filter((m: { content: string }) => m.content === 'race').length, 1, 'one in history')
  const seqs = history.map((m: { seq: number }) => m.seq)
  t.same(seqs, [...seqs].sort((x: number, y: number) => x - y), 'ascending')
  t.equal(new Set(seqs).size, seqs.length, 'no seq twice')
})

forEachStore(t, 'concurrent sends from several users get distinct, increasing seqs', async (t, app) => {
  const [a, b, c] = await users(app, 3, 'conc')
  const id = (await a!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [b!.user.id, c!.user.id] })).body.id
  const sends = await Promise.all([a!, b!, c!].flatMap((u) => Array.from({ length: 10 }, (_, i) => u.post(`/v1/conversations/${id}/messages`, { content: `${u.user.username}-${i}` }))))
  t.same(sends.map((s) => s.status).filter((s) => s !== 201), [], JSON.stringify(sends.find((s) => s.status !== 201)?.body))
  const history = (await a!.get(`/v1/conversations/${id}/messages?limit=100`)).body.items
  t.equal(history.length, 30)
  const seqs = history.map((m: { seq: number }) => m.seq)
  t.equal(new Set(seqs).size, 30)
  t.same(seqs, [...seqs].sort((x: number, y: number) => x - y))
})

forEachStore(t, 'content types: text, image and file with attachments, location; bad ones 400 naming the field', async (t, app) => {
  const [a, b] = await users(app, 2, 'ct')
  const id = await direct(a!, b!)
  const url = `/v1/conversations/${id}/messages`
  const att = { url: 'https://cdn.example.com/a.png', type: 'image/png', name: 'a.png', size: 10 }
  t.equal((await a!.post(url, { contentType: 'image', attachments: [att] })).status, 201)
  t.equal((await a!.post(url, { contentType: 'file', content: 'caption', attachments: [{ ...att, type: 'application/pdf' }] })).status, 201)
  const loc = await a!.post(url, { contentType: 'location', content: '52.52,13.405' })
  t.equal(loc.status, 201)
  t.equal(loc.body.content, '52.52,13.405')
  const cases: Array<[unknown, string]> = [
    [{ content: '' }, 'content'],
    [{ content: '   ' }, 'content'],
    [{}, 'content'],
    [{ content: 'x'.repeat(10_001) }, 'content'],
    [{ content: 5 }, 'content'],
    [{ content: 'x', contentType: 'video' }, 'contentType'],
    [{ contentType: 'image', attachments: [] }, 'attachments'],
    [{ contentType: 'image' }, 'attachments'],
    [{ content: 'x', attachments: [att] }, 'attachments'],
    [{ contentType: 'image', attachments: [{ ...att, url: 'javascript:alert(1)' }] }, 'attachments.0.url'],
    [{ contentType: 'image', attachments: [{ ...att, evil: true }] }, 'attachments.0.evil'],
    [{ contentType: 'location', content: '91,0' }, 'content'],
    [{ contentType: 'location', content: '0,181' }, 'content'],
    [{ contentType: 'location', content: 'here' }, 'content'],
    [{ content: 'x', clientMessageId: 'has space' }, 'clientMessageId'],
    [{ content: 'x', senderId: a!.user.id }, 'senderId'],
    [{ content: 'x', seq: 1 }, 'seq']
  ]
  for (const [payload, field] of cases) {
    const res = await a!.post(url, payload)
    t.equal(res.status, 400, JSON.stringify(payload).slice(0, 60))
    t.equal(res.body.field, field, JSON.stringify(payload).slice(0, 60))
  }
  t.equal((await a!.get(url)).body.items.length, 3, 'nothing half-written')
  t.equal((await a!.get(`/v1/conversations/${id}`)).body.lastSeq, 3, 'no seq spent on refused sends')
})

forEachStore(t, 'edit and delete: own messages; group admins may delete any; tombstones stay in history', async (t, app) => {
  const [owner, member, other] = await users(app, 3, 'ed')
  const id = (await owner!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [member!.user.id, other!.user.id] })).body.id
  const url = `/v1/conversations/${id}/messages`
  const mine = (await member!.post(url, { content: 'typo' })).body
  const theirs = (await other!.post(url, { content: 'hello' })).body

  t.equal((await other!.patch(`${url}/${mine.id}`, { content: 'hijack' })).status, 403, 'not the sender')
  t.equal((await owner!.patch(`${url}/${mine.id}`, { content: 'hijack' })).status, 403, 'not even the owner edits others')
  const edited = await member!.patch(`${url}/${mine.id}`, { content: 'fixed' })
  t.equal(edited.status, 200)
  t.match(edited.body, { content: 'fixed', seq: mine.seq })
  t.ok(edited.body.editedAt)
  t.equal((await member!.patch(`${url}/${mine.id}`, { content: '' })).status, 400)

  t.equal((await member!.del(`${url}/${theirs.id}`)).status, 403, 'members delete only their own')
  t.equal((await owner!.del(`${url}/${theirs.id}`)).status, 204, 'the owner may delete any')
  t.equal((await member!.del(`${url}/${mine.id}`)).status, 204)
  t.equal((await member!.del(`${url}/${mine.id}`)).status, 204, 'deleting twice is harmless')
  t.equal((await member!.patch(`${url}/${mine.id}`, { content: 'back' })).status, 409, 'a tombstone cannot be edited')

  const history = (await owner!.get(url)).body.items
  t.equal(history.length, 2)
  for (const m of history) {
    t.match(m, { content: '', attachments: [] })
    t.ok(m.deletedAt, 'deletedAt set')
  }
  t.same(history.map((m: { seq: number }) => m.seq), [mine.seq, theirs.seq], 'seqs kept')
  const conv = (await owner!.get(`/v1/conversations/${id}`)).body
  t.match(conv.lastMessage, { id: theirs.id, content: '' }, 'lastMessage follows the delete')

  const [x, y] = await users(app, 2, 'ed2')
  const dm = await direct(x!, y!)
  const ym = (await y!.post(`/v1/conversations/${dm}/messages`, { content: 'mine' })).body
  t.equal((await x!.del(`/v1/conversations/${dm}/messages/${ym.id}`)).status, 403, 'no admins in direct conversations')
  t.equal((await x!.patch(`/v1/conversations/${dm}/messages/${theirs.id}`, { content: 'x' })).status, 404, 'a message of another conversation is not found here')
  t.equal((await owner!.del(`${url}/ffffffffffffffffffffffff`)).status, 404)
})

forEachStore(t, 'read watermarks never move backwards; unreadCount and readBy follow them', async (t, app) => {
  const [a, b] = await users(app, 2, 'rd')
  const id = await direct(a!, b!)
  for (let i = 1; i <= 5; i++) await a!.post(`/v1/conversations/${id}/messages`, { content: `m${i}` })
  await b!.post(`/v1/conversations/${id}/messages`, { content: 'from b' })
  const unread = async (c: typeof a) => (await c!.get(`/v1/conversations/${id}`)).body.unreadCount
  t.equal(await unread(b), 5, 'own messages are not unread')
  t.equal(await unread(a), 1)

  t.equal((await b!.post(`/v1/conversations/${id}/read`, { seq: 3 })).status, 204)
  t.equal(await unread(b), 2)
  t.equal((await b!.post(`/v1/conversations/${id}/read`, { seq: 1 })).status, 204)
  t.equal(await unread(b), 2, 'the watermark did not move back')
  const parts = (await a!.get(`/v1/conversations/${id}/participants`)).body.items
  t.equal(parts.find((p: { userId: string }) => p.userId === b!.user.id).readSeq, 3)

  const history = (await a!.get(`/v1/conversations/${id}/messages`)).body.items
  const readBy = (seq: number) => history.find((m: { seq: number }) => m.seq === seq).readBy.map((r: { userId: string }) => r.userId)
  t.same(readBy(3), [b!.user.id])
  t.same(readBy(4), [])
  t.same(history.find((m: { seq: number }) => m.seq === 3).deliveredTo.map((r: { userId: string }) => r.userId), [b!.user.id], 'read implies delivered')

  await b!.post(`/v1/conversations/${id}/read`, { seq: 1_000_000 })
  t.equal(await unread(b), 0, 'a seq past the end counts as the end')
  t.equal((await b!.post(`/v1/conversations/${id}/read`, { seq: -1 })).status, 400)
  t.equal((await b!.post(`/v1/conversations/${id}/read`, { seq: 'x' })).status, 400)
  await a!.post(`/v1/conversations/${id}/messages`, { content: 'new' })
  t.equal(await unread(b), 1, 'only what came after')
})

forEachStore(t, 'sends are rate limited per user, stricter in groups: 429 with Retry-After', async (t, app) => {
  const [a, b, c] = await users(app, 3, 'rl')
  const dm = await direct(a!, b!)
  const group = (await a!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [b!.user.id, c!.user.id] })).body.id
  for (let i = 0; i < 2; i++) t.equal((await a!.post(`/v1/conversations/${group}/messages`, { content: `g${i}` })).status, 201)
  const limited = await a!.post(`/v1/conversations/${group}/messages`, { content: 'g3' })
  t.equal(limited.status, 429)
  t.equal(limited.body.code, 'RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) >= 1)
  t.equal((await a!.post(`/v1/conversations/${group}/messages`, { content: 'g0' , clientMessageId: 'x' })).status, 429)
  for (let i = 0; i < 4; i++) t.equal((await a!.post(`/v1/conversations/${dm}/messages`, { content: `d${i}` })).status, 201, 'direct allows more')
  t.equal((await a!.post(`/v1/conversations/${dm}/messages`, { content: 'd5' })).status, 429)
  t.equal((await b!.post(`/v1/conversations/${group}/messages`, { content: 'b' })).status, 201, 'per user')
  t.equal((await a!.get(`/v1/conversations/${group}/messages`)).body.items.length, 3, 'refused sends stored nothing')
}, { env: { RATE_LIMITS: 'on', RATE_LIMIT_SEND_GROUP: '2/60000', RATE_LIMIT_SEND_DIRECT: '4/60000' } })
