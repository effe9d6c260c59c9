/**
 * Message search: whole words whatever their case and accents, Chinese and
 * Japanese by their words, phrases and every operator, edits and deletions,
 * only the caller's conversations (and not one they left), paging, bounds,
 * and the index the mongo adapter's query is served by.
 */
import t from 'tap'
import type { Db } from 'mongodb'
import { forEachStore, users, type Client } from '../helper.js'
import { searchQueryOf } from '../../src/store/mongo/messages.js'

const search = async (c: Client, q: string, extra = '') => c.get(`/v1/search/messages?q=${encodeURIComponent(q)}${extra}`)
const contents = (res: { body: { items: Array<{ message: { content: string } }> } }) => res.body.items.map((i) => i.message.content)

forEachStore(t, 'whole words, any case or accents; Japanese and Chinese by a word; phrases; newest first; only my conversations', async (t, app) => {
  const [ana, ben, eve] = await users(app, 3, 'srch')
  const dm = (await ana!.post('/v1/conversations', { type: 'direct', participantIds: [ben!.user.id] })).body.id
  const group = (await ana!.post('/v1/conversations', { type: 'group', name: 'Café team', participantIds: [ben!.user.id] })).body.id
  const secret = (await eve!.post('/v1/conversations', { type: 'direct', participantIds: [ben!.user.id] })).body.id
  const say = async (c: Client, cid: string, content: string) => (await c.post(`/v1/conversations/${cid}/messages`, { content })).body
  await say(ana!, dm, 'The Crème Brûlée at the CAFÉ was great')
  await say(ben!, group, '東京都に住んでいます。明日は雨が降るでしょう')
  await say(ana!, group, '我们明天去北京开会')
  await say(ben!, dm, 'cafeteria is not a cafe, and brulee is not creme')
  await say(eve!, secret, 'cafe secret between eve and ben')

  t.same(contents(await search(ana!, 'cafe')), ['cafeteria is not a cafe, and brulee is not creme', 'The Crème Brûlée at the CAFÉ was great'], 'accents and case folded, whole words only (not "cafeteria" for "caf"), newest first, never eve\'s conversation')
  t.same(contents(await search(ana!, 'caf')), [], 'a part of a word is not a word')
  t.same(contents(await search(ana!, 'CRÈME brulee')), ['cafeteria is not a cafe, and brulee is not creme', 'The Crème Brûlée at the CAFÉ was great'], 'every word, in any order')
  t.same(contents(await search(ana!, '"creme brulee"')), ['The Crème Brûlée at the CAFÉ was great'], 'a phrase: those words, next to each other, in that order')
  t.same(contents(await search(ana!, '"brulee creme"')), [], 'not in the other order')
  t.same(contents(await search(ana!, '東京')), ['東京都に住んでいます。明日は雨が降るでしょう'], 'Japanese, by a word')
  t.same(contents(await search(ana!, '明日 雨')), ['東京都に住んでいます。明日は雨が降るでしょう'])
  t.same(contents(await search(ana!, '北京')), ['我们明天去北京开会'], 'Chinese, by a word')
  t.same(contents(await search(ana!, '北')), [], 'not by a part of a word')
  const hit = (await search(ana!, '北京')).body.items[0]
  t.match(hit.conversation, { id: group, type: 'group', name: 'Café team' })
  t.equal(hit.message.conversationId, group)
  t.same(contents(await search(eve!, 'cafe')), ['cafe secret between eve and ben'], 'eve sees only hers')
  t.same(contents(await search(ben!, 'cafe', `&conversationId=${dm}`)), ['cafeteria is not a cafe, and brulee is not creme', 'The Crème Brûlée at the CAFÉ was great'], 'in one conversation')
  t.equal((await search(ana!, 'cafe', `&conversationId=${secret}`)).status, 403, 'one I am not in: 403')
  t.equal((await search(ana!, 'cafe', '&conversationId=665f1c2ab4d5e6f7a8b9c0d1')).status, 404)
})

forEachStore(t, 'operators: from:, before:, after:, has:attachment, alone or with words; bad ones and empty queries are 400', async (t, app) => {
  const [ana, ben] = await users(app, 2, 'srop')
  const cid = (await ana!.post('/v1/conversations', { type: 'direct', participantIds: [ben!.user.id] })).body.id
  await ana!.post(`/v1/conversations/${cid}/messages`, { content: 'report from ana' })
  await ben!.post(`/v1/conversations/${cid}/messages`, { content: 'report from ben' })
  await ben!.post(`/v1/conversations/${cid}/messages`, { contentType: 'image', content: 'the report chart', attachments: [{ url: 'https://cdn.example.com/chart.png', type: 'image/png' }] })
  t.same(contents(await search(ana!, `report from:${ben!.user.username}`)), ['the report chart', 'report from ben'])
  t.same(contents(await search(ana!, `from:@${ben!.user.username.toUpperCase()}`)), ['the report chart', 'report from ben'], 'from: alone, any case, with or without @')
  t.same(contents(await search(ana!, 'from:nobody_at_all')), [], 'an unknown user: nothing')
  t.same(contents(await search(ana!, 'has:attachment')), ['the report chart'])
  t.same(contents(await search(ana!, 'report has:attachment')), ['the report chart'])
  const today = new Date().toISOString().slice(0, 10)
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
  t.equal((await search(ana!, `report before:${tomorrow}`)).body.items.length, 3, 'before: the start of tomorrow')
  t.equal((await search(ana!, `report before:${today}`)).body.items.length, 0, 'before today began: none')
  t.equal((await search(ana!, `report after:${yesterday}`)).body.items.length, 3, 'after: the end of yesterday')
  t.equal((await search(ana!, `report after:${today}`)).body.items.length, 0)
  for (const [q, what] of [['', 'empty'], ['   ', 'blank'], ['!!! ...', 'no words'], ['before:yesterday', 'a bad day'], ['after:2026-02-30', 'no such day'], ['has:link', 'an unknown has:'], ['from:', 'from: without a name'], ['a b c d e f g h i j k', 'eleven words']] as Array<[string, string]>) {
    const res = await search(ana!, q)
    t.equal(res.status, 400, what)
    t.equal(res.body.code, 'VALIDATION_ERROR', what)
  }
  t.equal((await search(ana!, 'x'.repeat(501))).status, 400, 'too long')
  t.equal((await ana!.get('/v1/search/messages')).status, 400, 'no q')
  t.equal((await search(ana!, 'report', '&cursor=garbage')).status, 400, 'a cursor we did not give')
  t.equal((await search(ana!, 'report', '&limit=0')).status, 400)
})

forEachStore(t, 'an edit changes what finds a message, a deletion hides it, and leaving a conversation stops its search', async (t, app) => {
  const [ana, ben, cy] = await users(app, 3, 'sred')
  const gid = (await ana!.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [ben!.user.id, cy!.user.id] })).body.id
  const m = (await ana!.post(`/v1/conversations/${gid}/messages`, { content: 'meet at the harbour' })).body
  const gone = (await ana!.post(`/v1/conversations/${gid}/messages`, { content: 'harbour plans are secret' })).body
  t.equal((await search(ben!, 'harbour')).body.items.length, 2)
  await ana!.patch(`/v1/conversations/${gid}/messages/${m.id}`, { content: 'meet at the station' })
  t.same(contents(await search(ben!, 'harbour')), ['harbour plans are secret'], 'edited away from the word: not found')
  t.same(contents(await search(ben!, 'station')), ['meet at the station'], 'found by its new text')
  await ana!.del(`/v1/conversations/${gid}/messages/${gone.id}`)
  t.same(contents(await search(ben!, 'harbour')), [], 'a deleted message is never found')
  t.same(contents(await search(ben!, 'secret')), [])
  t.equal((await cy!.del(`/v1/conversations/${gid}/participants/${cy!.user.id}`)).status, 204)
  t.same(contents(await search(cy!, 'station')), [], 'a conversation I left is not searched')
  t.same(contents(await search(ben!, 'station')), ['meet at the station'])
})

forEachStore(t, 'pages: newest first, a cursor to the next, each message once', async (t, app) => {
  const [ana, ben] = await users(app, 2, 'srpg')
  const cid = (await ana!.post('/v1/conversations', { type: 'direct', participantIds: [ben!.user.id] })).body.id
  for (let i = 0; i < 7; i++) await ana!.post(`/v1/conversations/${cid}/messages`, { content: `lighthouse number ${i}` })
  await ana!.post(`/v1/conversations/${cid}/messages`, { content: 'unrelated' })
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res: { body: { items: Array<{ message: { content: string } }>, nextCursor: string | null } } = await search(ben!, 'lighthouse', `&limit=3${cursor === null ? '' : `&cursor=${cursor}`}`)
    seen.push(...contents(res))
    cursor = res.body.nextCursor
    pages++
  } while (cursor !== null && pages < 10)
  t.same(seen, [6, 5, 4, 3, 2, 1, 0].map((i) => `lighthouse number ${i}`), 'every one once, newest first')
  t.equal(pages, 3)
})

forEachStore(t, 'the store keeps normalised words for search, never shown; the mongo adapter\'s query is served by its words index', async (t, app, kind) => {
  const [ana, ben] = await users(app, 2, 'srix')
  const cid = (await ana!.post('/v1/conversations', { type: 'direct', participantIds: [ben!.user.id] })).body.id
  const sent = (await ana!.post(`/v1/conversations/${cid}/messages`, { content: 'Ünïcode WORDS, words!' })).body
  t.equal(sent.words, undefined, 'not in the API')
  t.same((await app.store.messages.findById(sent))?.words, ['unicode', 'words'], 'distinct, folded, in order')
  if (kind !== 'mongo') return
  const db = (app.store as unknown as { db: Db }).db
  const indexes = (await db.collection('messages').indexes()).map((ix) => ix.name)
  t.ok(indexes.includes('search_words') && indexes.includes('search_conversation'), 'both search indexes exist')
  const shape = searchQueryOf({ conversationIds: [cid], wordSets: [['unicode', 'words']], hasAttachment: false, limit: 21 })
  t.equal(shape.index, 'search_words')
  t.same(shape.sort, { sentAt: -1, _id: -1 }, 'the words index\'s own order after its first key: no sort stage on MongoDB')
  const found = await db.collection('messages').find(shape.filter as object).sort(shape.sort).limit(21).toArray()
  t.same(found.map((d) => String(d._id)), [sent.id], 'the query shape finds it')
  const plan = await db.collection('messages').find(shape.filter as object).sort(shape.sort).limit(21).explain()
  t.ok(plan !== null && typeof plan === 'object', 'the server explains the query')
  const winning = JSON.stringify((plan as { queryPlanner?: { winningPlan?: unknown } }).queryPlanner?.winningPlan ?? null)
  if (winning.includes('IXSCAN')) {
    // MongoDB: the words index, and the order read from it (no blocking sort).
    t.match(winning, /"indexName":"search_words"/, 'MongoDB picks the words index')
    t.notMatch(winning, /"stage":"SORT"/, 'and sorts nothing')
  } else {
    // FerretDB 1.x plans in PostgreSQL (no MongoDB index is used for $all); the plan is shown, not judged.
    t.comment(`FerretDB's plan: ${JSON.stringify(plan).slice(0, 400)}`)
  }
})

forEachStore(t, 'messages stored before search existed are found once the backfill has given them their words', async (t, app) => {
  const [ana, ben] = await users(app, 2, 'srbf')
  const cid = (await ana!.post('/v1/conversations', { type: 'direct', participantIds: [ben!.user.id] })).body.id
  const sent = (await ana!.post(`/v1/conversations/${cid}/messages`, { content: 'placeholder' })).body
  // As an older version stored it: the same message with no words field.
  const old = { ...(await app.store.messages.findById(sent))!, id: '665f1c2ab4d5e6f7a8b9c0d1', seq: 99, version: 99, clientMessageId: 'legacy', content: 'an archaic marmalade recipe' }
  delete old.words
  await app.store.messages.insertMany([old])
  t.same(contents(await search(ben!, 'marmalade')), [], 'not found before')
  t.equal(await app.services.messages.backfillWords(), 1, 'one to do')
  t.equal(await app.services.messages.backfillWords(), 0, 'then none')
  t.same(contents(await search(ben!, 'marmalade')), ['an archaic marmalade recipe'], 'found after')
})
