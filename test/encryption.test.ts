/**
 * Encryption at rest through the whole app: the database holds no readable
 * content, excerpt, file name or email after sends, replies, edits, uploads,
 * registrations and searches, yet every one of them works; a ciphertext
 * tampered with or moved to another message makes that message (only) read
 * as unreadable, with a logged error; the key ring is checked at start.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Db } from 'mongodb'
import { buildTestApp, client, forEachStore, register, testConfig, uniqueAddress } from './helper.js'
import sharp from 'sharp'
import { createStore } from '../src/store/index.js'
import { blobKeyId } from '../src/store/encrypted.js'
import type { Store } from '../src/store/port.js'
import { mongoTestUrl } from './services.js'

const collect = async (source: AsyncIterable<Uint8Array>) => { const parts: Uint8Array[] = []; for await (const c of source) parts.push(c); return Buffer.concat(parts) }
const key = (n: number) => Buffer.alloc(32, n).toString('base64')
const RING = `k2:${key(2)},k1:${key(1)}`
const ENV = { ENCRYPTION_KEYS: RING }
const SECRETS = ['zanzibar', 'quokka', 'plans-for-the-moon', 'xylophone']

forEachStore(t, 'everything works encrypted: sends, replies, edits, search by words, uploads, login by email', async (t, app) => {
  const ana = await register(app, 'enc')
  const ben = await register(app, 'enc')
  const a = client(app, ana)
  const cid = (await a.post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id
  const first = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'meet me in Zanzibar with the quokka' })).body
  t.equal(first.content, 'meet me in Zanzibar with the quokka')
  const reply = (await client(app, ben).post(`/v1/conversations/${cid}/messages`, { content: 'a xylophone too?', replyTo: first.id })).body
  t.equal(reply.replyTo.content, 'meet me in Zanzibar with the quokka', 'the quote reads back')
  const history = (await a.get(`/v1/conversations/${cid}/messages`)).body.items
  t.same(history.map((m: { content: string }) => m.content), ['meet me in Zanzibar with the quokka', 'a xylophone too?'])
  t.equal((await a.get(`/v1/conversations/${cid}`)).body.lastMessage.content, 'a xylophone too?', 'the lastMessage excerpt reads back')
  const found = await a.get('/v1/search/messages?q=zanzibar')
  t.same(found.body.items.map((i: { message: { id: string } }) => i.message.id), [first.id], 'search finds it by a word')
  await a.patch(`/v1/conversations/${cid}/messages/${first.id}`, { content: 'meet me at home' })
  t.same((await a.get('/v1/search/messages?q=zanzibar')).body.items, [], 'edited away: not found')
  t.equal((await a.get('/v1/search/messages?q=home')).body.items.length, 1, 'found by its new words')
  t.equal((await a.get(`/v1/conversations/${cid}/messages`)).body.items[1].replyTo.content, 'meet me at home', 'the quote follows the edit, encrypted')
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: uniqueAddress(), payload: { login: ana.email.toUpperCase(), password: ana.password } })
  t.equal(login.statusCode, 200, 'login by email, any case, through its keyed hash')
  t.equal(login.json().user.email, ana.email, 'the email reads back')
  const again = await app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: uniqueAddress(), payload: { username: 'another_enc', email: ana.email.toUpperCase(), password: 'correct horse battery' } })
  t.equal(again.statusCode, 409, 'an email taken is taken, whatever its case')
  t.equal((await a.get(`/v1/users/${ana.id}`)).status, 200)
})

t.test('the raw MongoDB documents hold no readable content, excerpt, file name or email', async (t) => {
  const built = await buildTestApp(t, { store: 'mongo', env: { ...ENV, ADMIN_API_TOKEN: 'admin-token-for-tests-0123456789abcdef', EVENT_ENDPOINTS_ALLOW_PRIVATE: 'true' } })
  if (built === undefined) return
  const { app } = built
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  // An event endpoint (nothing listens there): the outbox holds every event, with the content it carries.
  const endpoint = (await app.inject({ method: 'POST', url: '/v1/admin/event-endpoints', headers: { authorization: 'Bearer admin-token-for-tests-0123456789abcdef' }, payload: { url: 'http://127.0.0.1:9/hook' } })).json() as { secret: string }
  const ana = await register(app, 'encraw')
  const ben = await register(app, 'encraw')
  const a = client(app, ana)
  const cid = (await a.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [ben.id] })).body.id
  const m = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'zanzibar quokka' })).body
  await client(app, ben).post(`/v1/conversations/${cid}/messages`, { content: 'xylophone', replyTo: m.id })
  await a.patch(`/v1/conversations/${cid}/messages/${m.id}`, { content: 'zanzibar quokka xylophone' })
  const form = new FormData()
  form.append('file', new Blob(['the quokka plays the xylophone'.repeat(5000)]), 'plans-for-the-moon.txt')
  const up = await (await fetch(`${base}/v1/conversations/${cid}/attachments`, { method: 'POST', headers: ana.auth, body: form })).json() as { id: string, name: string }
  t.equal(up.name, 'plans-for-the-moon.txt')
  await a.post(`/v1/conversations/${cid}/messages`, { contentType: 'file', content: 'zanzibar', attachments: [{ id: up.id }] })
  t.equal((await a.get('/v1/search/messages?q=quokka')).body.items.length, 1)
  const db = (app.store as unknown as { db: Db }).db
  // The test reads whole collections, on purpose: named so to the run's shard-key audit.
  const everything = { comment: 'scatter-gather: the test reads the raw documents' }
  const dump = async (name: string) => JSON.stringify(await db.collection(name).find({}, everything).toArray())
  const raw = { messages: await dump('messages'), conversations: await dump('conversations'), users: await dump('users'), attachments: await dump('attachments'), events: await dump('events') }
  t.ok((await db.collection('events').countDocuments({ type: 'message.created' })) >= 2, 'the outbox holds the events')
  t.notOk((await dump('eventEndpoints')).includes(endpoint.secret.slice(6)), 'the endpoint\'s signing secret is sealed too')
  for (const [name, text] of Object.entries(raw)) {
    // (The emails' local parts are the usernames here, and usernames are not encrypted: the whole address is looked for.)
    for (const s of [...SECRETS, ana.email, ben.email]) t.notOk(text.toLowerCase().includes(s.toLowerCase()), `${name}: no ${s}`)
  }
  const chunks = await db.collection('attachments.chunks').find({}).toArray()
  t.ok(chunks.length > 0, 'the upload is in GridFS')
  const bytes = Buffer.concat(chunks.map((c) => Buffer.from((c.data as { buffer: Uint8Array }).buffer)))
  for (const s of SECRETS) t.notOk(bytes.includes(Buffer.from(s)), `GridFS chunks: no ${s}`)
  t.equal(bytes.subarray(0, 4).toString('latin1'), 'ENC1', 'the bytes are sealed (ENC1, then segments)')
  const doc = await db.collection('messages').findOne({ content: { $regex: '^enc1\\.' } }, everything)
  t.ok(doc !== null, 'content is stored as enc1.<key>.<nonce>.<ciphertext>')
  t.match(String(doc!.content), /^enc1\.k2\./, 'under the active key')
  t.ok((doc!.words as string[]).every((w) => w.startsWith('h1.k2.')), 'search words are keyed hashes')
  const user = await db.collection('users').findOne({ usernameLower: ana.username.toLowerCase() })
  t.match(user, { email: /^enc1\.k2\./, emailLower: /^h1\.k2\./ })
})

/** A store of the kind, without encryption, shared by the apps of one test and closed when it ends (undefined: not provisioned). */
function storeOf (t: Test, kind: 'memory' | 'mongo'): Store | undefined {
  const url = kind === 'mongo' ? mongoTestUrl(t) : undefined
  if (kind === 'mongo' && url === undefined) return undefined
  const store = createStore(testConfig({ ...(url !== undefined && { MONGODB_URL: url }) }))
  t.teardown(() => store.close())
  return store
}

for (const kind of ['memory', 'mongo'] as const) t.test(`a ciphertext tampered with, or moved to another message, makes that message unreadable (logged, a contract answer); nothing else fails [${kind}]`, async (t) => {
  const logs: string[] = []
  // The store under the encryption, as an attacker with the database has it.
  const inner = storeOf(t, kind)
  if (inner === undefined) return
  const built = await buildTestApp(t, { env: ENV, logs, build: { store: { store: inner } } })
  if (built === undefined) return
  const api = built.app
  const ana = await register(api, 'enctamper')
  const ben = await register(api, 'enctamper')
  const a = client(api, ana)
  const cid = (await a.post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id
  const one = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'first secret' })).body
  const two = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'second secret' })).body
  const three = (await a.post(`/v1/conversations/${cid}/messages`, { content: 'third, untouched' })).body
  const stored = (await inner.messages.findById(one))!.content
  t.match(stored, /^enc1\./)
  await inner.messages.edit(two, stored, new Date(), two.version + 1000)
  const flipped = stored.slice(0, -2) + (stored.at(-2) === 'A' ? 'B' : 'A') + stored.at(-1)
  await inner.messages.edit(one, flipped, new Date(), one.version + 2000)
  const history = await a.get(`/v1/conversations/${cid}/messages`)
  t.equal(history.status, 200, 'the page is served')
  const byId = new Map(history.body.items.map((m: { id: string }) => [m.id, m]))
  t.match(byId.get(one.id), { content: '', unreadable: true }, 'tampered: unreadable')
  t.match(byId.get(two.id), { content: '', unreadable: true }, 'moved from another message: unreadable')
  t.match(byId.get(three.id), { content: 'third, untouched' }, 'the others read as ever')
  t.equal((byId.get(three.id) as { unreadable?: boolean }).unreadable, undefined)
  const errors = logs.map((l) => JSON.parse(l) as { level: number, msg: string, id?: string }).filter((l) => l.msg === 'a stored value did not decrypt; it reads as empty')
  t.ok(errors.some((e) => e.id === one.id) && errors.some((e) => e.id === two.id), 'each logged, by its id')
  t.ok(errors.every((e) => e.level === 50), 'as errors')
  t.notOk(logs.join('\n').includes('first secret'), 'never with the value')
  t.equal((await a.post(`/v1/conversations/${cid}/messages`, { content: 'still writing' })).status, 201, 'the conversation goes on')
  t.equal((await a.get('/v1/search/messages?q=untouched')).body.items.length, 1, 'and search')
})

forEachStore(t, 'encrypted upload bytes stream back whole and by any Range, across segments', async (t, app) => {
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const ana = await register(app, 'encrange')
  const ben = await register(app, 'encrange')
  const cid = (await client(app, ana).post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id
  const bytes = Buffer.alloc(200_000)
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 255
  const form = new FormData()
  form.append('file', new Blob([bytes]), 'r.bin')
  const up = await (await fetch(`${base}/v1/conversations/${cid}/attachments`, { method: 'POST', headers: ana.auth, body: form })).json() as { url: string, size: number }
  t.equal(up.size, bytes.length)
  const get = async (range?: string) => { const res = await fetch(`${base}${up.url}`, { headers: range === undefined ? {} : { range } }); return { status: res.status, body: Buffer.from(await res.arrayBuffer()) } }
  t.ok((await get()).body.equals(bytes), 'whole')
  for (const [range, from, to] of [['bytes=0-0', 0, 0], ['bytes=65530-65545', 65530, 65545], ['bytes=65536-131071', 65536, 131071], ['bytes=131000-', 131000, bytes.length - 1], ['bytes=-7', bytes.length - 7, bytes.length - 1]] as Array<[string, number, number]>) {
    const r = await get(range)
    t.equal(r.status, 206, range)
    t.ok(r.body.equals(bytes.subarray(from, to + 1)), `${range}: the right bytes`)
  }
}, { env: ENV })

for (const kind of ['memory', 'mongo'] as const) t.test(`turned on for a deployment that has data: its plaintext messages, words and emails still read, search and log in [${kind}]`, async (t) => {
  const store = storeOf(t, kind)
  if (store === undefined) return
  // First without encryption: an account and a message, stored in plaintext.
  const before = await buildTestApp(t, { build: { store: { store } } })
  if (before === undefined) return
  const ana = await register(before.app, 'encon')
  const ben = await register(before.app, 'encon')
  const cid = (await client(before.app, ana).post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id
  await client(before.app, ana).post(`/v1/conversations/${cid}/messages`, { content: 'written before the keys' })
  await before.app.close()
  // Then with: the same store.
  const after = await buildTestApp(t, { env: ENV, build: { store: { store } } })
  if (after === undefined) return
  const a = client(after.app, ana)
  await a.post(`/v1/conversations/${cid}/messages`, { content: 'written with the keys' })
  t.same((await a.get(`/v1/conversations/${cid}/messages`)).body.items.map((m: { content: string }) => m.content), ['written before the keys', 'written with the keys'], 'both read')
  t.equal((await a.get('/v1/search/messages?q=written')).body.items.length, 2, 'both found: plaintext words and keyed hashes')
  const login = await after.app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: uniqueAddress(), payload: { login: ana.email, password: ana.password } })
  t.equal(login.statusCode, 200, 'a plaintext email still logs in')
  const dup = await after.app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: uniqueAddress(), payload: { username: 'someone_else_enc', email: ben.email, password: 'correct horse battery' } })
  t.equal(dup.statusCode, 409, 'and is still taken')
})

for (const kind of ['memory', 'mongo'] as const) t.test(`upload bytes tampered with: a contract error (500, logged) for that download, the others stream [${kind}]`, async (t) => {
  const logs: string[] = []
  const inner = storeOf(t, kind)
  if (inner === undefined) return
  const built = await buildTestApp(t, { env: ENV, logs, build: { store: { store: inner } } })
  if (built === undefined) return
  const base = await built.app.listen({ port: 0, host: '127.0.0.1' })
  const ana = await register(built.app, 'encblob')
  const ben = await register(built.app, 'encblob')
  const cid = (await client(built.app, ana).post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id
  const uploadOf = async (text: string) => { const f = new FormData(); f.append('file', new Blob([text]), 'f.txt'); return await (await fetch(`${base}/v1/conversations/${cid}/attachments`, { method: 'POST', headers: ana.auth, body: f })).json() as { id: string, url: string } }
  const bad = await uploadOf('secret one')
  const good = await uploadOf('secret two')
  const raw: Uint8Array[] = []
  for await (const chunk of inner.blobs.read(bad.id)) raw.push(chunk)
  const bytes = Buffer.concat(raw)
  bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 1
  await inner.blobs.delete(bad.id)
  await inner.blobs.write(bad.id, [bytes])
  const res = await fetch(`${base}${bad.url}`)
  t.equal(res.status, 500, 'refused before the answer starts')
  t.equal(((await res.json()) as { code: string }).code, 'INTERNAL_ERROR')
  t.equal(await (await fetch(`${base}${good.url}`)).text(), 'secret two', 'another upload streams as ever')
  t.ok(logs.some((l) => l.includes('a stored value did not decrypt') && l.includes(bad.id)), 'logged, by the upload\'s id')
  t.notOk(logs.join('\n').includes('secret one'), 'never with the value')
})

t.test('the key ring is checked at start', async (t) => {
  t.throws(() => testConfig({ ENCRYPTION_KEYS: 'k1:short' }), /32/, 'a key of the wrong size')
  t.throws(() => testConfig({ ENCRYPTION_KEYS: `bad id:${key(1)}` }), /keyId/, 'a bad key id')
  t.throws(() => testConfig({ ENCRYPTION_KEYS: `k1:${key(1)},k1:${key(2)}` }), /twice/, 'a key id twice')
  const dir = mkdtempSync(join(tmpdir(), 'ring-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'ring')
  writeFileSync(file, `# the active key first\nk2:${key(2)}\nk1:${key(1)}\n`)
  t.same(testConfig({ ENCRYPTION_KEYS_FILE: file }).encryptionKeys!.map((k) => k.id), ['k2', 'k1'], 'from a file, comments skipped')
  t.throws(() => testConfig({ ENCRYPTION_KEYS_FILE: file, ENCRYPTION_KEYS: RING }), /not both/)
  t.throws(() => testConfig({ ENCRYPTION_KEYS_FILE: join(dir, 'missing') }), /ENOENT/)
  t.equal(testConfig().encryptionKeys, null, 'unset: no encryption')
})


for (const kind of ['memory', 'mongo'] as const) t.test(`rotation under traffic: everything older is re-encrypted under the new key, sends meanwhile all read, the old key leaves the ring [${kind}]`, async (t) => {
  const store = storeOf(t, kind)
  if (store === undefined) return
  const OLD = `k1:${key(1)}`
  const NEW = `k2:${key(2)},k1:${key(1)}`
  // Under k1: accounts, messages with quotes, a lastMessage, an upload's name.
  const first = await buildTestApp(t, { env: { ENCRYPTION_KEYS: OLD }, build: { store: { store } } })
  if (first === undefined) return
  const ana = await register(first.app, 'encrot')
  const ben = await register(first.app, 'encrot')
  const a1 = client(first.app, ana)
  const cid = (await a1.post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id
  const expected: string[] = []
  for (let i = 0; i < 30; i++) {
    const content = `old message ${i} about walruses`
    await a1.post(`/v1/conversations/${cid}/messages`, { content, ...(i > 0 && { replyTo: (await a1.get(`/v1/conversations/${cid}/messages?limit=1`)).body.items[0].id }) })
    expected.push(content)
  }
  // Uploads under k1: a picture with its thumbnail, and a text of several segments.
  const base1 = await first.app.listen({ port: 0, host: '127.0.0.1' })
  const upload = async (bytes: Buffer, name: string) => {
    const form = new FormData()
    form.append('file', new Blob([new Uint8Array(bytes)]), name)
    return await (await fetch(`${base1}/v1/conversations/${cid}/attachments`, { method: 'POST', headers: ana.auth, body: form })).json() as { id: string }
  }
  const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#2a6' } }).png().toBuffer()
  const long = Buffer.from('a long old upload about walruses\n'.repeat(6000))
  const files = [await upload(png, 'old.png'), await upload(long, 'old.txt')]
  t.equal((await a1.post(`/v1/conversations/${cid}/messages`, { contentType: 'file', content: 'old files about walruses', attachments: files.map((f) => ({ id: f.id })) })).status, 201)
  expected.push('old files about walruses')
  const thumbnailUnderK1 = await (await fetch(`${base1}/v1/attachments/${files[0]!.id}/thumbnail`, { headers: ana.auth })).arrayBuffer()
  await first.app.close()
  const refused = await buildTestApp(t, { env: { ENCRYPTION_KEYS: `k2:${key(2)}` }, build: { store: { store } } }).catch((err: Error) => err)
  t.match(refused, { name: 'KeysMissingError', message: /lacks k1, still in use/ }, 'a ring without k1 is refused while data is sealed under it')
  // k2 becomes active; rotation runs while Ana keeps writing.
  const second = await buildTestApp(t, { env: { ENCRYPTION_KEYS: NEW }, build: { store: { store } } })
  if (second === undefined) return
  const a2 = client(second.app, ana)
  const { createKeyRing, parseKeyRing } = await import('../src/domain/keyring.js')
  const { rotateKeys } = await import('../src/store/rotation.js')
  let sending = true
  const writer = (async () => {
    for (let i = 0; sending || i < 5; i++) {
      const content = `new message ${i} about walruses`
      t.equal((await a2.post(`/v1/conversations/${cid}/messages`, { content })).status, 201)
      expected.push(content)
    }
  })()
  const { collections: report, retired } = await rotateKeys(store, createKeyRing(parseKeyRing(NEW)), { batch: 7 })
  sending = false
  await writer
  t.equal(report.messages!.unreadable, 0)
  t.ok(report.messages!.resealed >= 30, `the old messages re-encrypted (${report.messages!.resealed})`)
  t.same(Object.keys(report.messages!.left), ['k2'], 'messages: nothing left under k1')
  t.same(Object.keys(report.users!.left), ['k2'], 'users too')
  t.same(Object.keys(report.conversations!.left), ['k2'], 'and conversations')
  t.same(report['attachment bytes'], { resealed: 2, unreadable: 0, left: { k2: 2 } }, 'upload bytes sealed again under k2')
  for (const f of files) {
    const upload = await store.attachments.findById(f.id)
    t.match(upload!.blob, /^[0-9a-f]{24}\.k2-[0-9a-f]{8}$/, 'the upload points to its new bytes')
    t.equal(await blobKeyId(store.blobs, upload!.blob!), 'k2')
    await t.rejects(collect(store.blobs.read(f.id)), 'and its old bytes are gone')
  }
  await t.rejects(collect(store.blobs.read(`${files[0]!.id}.thumbnail`)), 'the old thumbnail too')
  t.same(retired, ['k1'], 'k1 is retired: nothing is left under it')
  const again = await rotateKeys(store, createKeyRing(parseKeyRing(NEW)))
  t.equal(again.collections.messages!.resealed, 0, 'a second run finds nothing to do')
  await second.app.close()
  // k1 removed from the ring: every message still reads, search and login by email still work.
  const third = await buildTestApp(t, { env: { ENCRYPTION_KEYS: `k2:${key(2)}` }, build: { store: { store } } })
  if (third === undefined) return
  const a3 = client(third.app, ana)
  const all: string[] = []
  let beforeSeq: number | undefined
  for (;;) {
    const page = (await a3.get(`/v1/conversations/${cid}/messages?limit=100${beforeSeq === undefined ? '' : `&beforeSeq=${beforeSeq}`}`)).body
    all.unshift(...page.items.map((m: { content: string, unreadable?: boolean }) => (m.unreadable === true ? 'UNREADABLE' : m.content)))
    if (!page.hasMore) break
    beforeSeq = page.items[0].seq
  }
  t.same(all, expected, 'every message, old and sent during the rotation, reads under k2 alone')
  const oldest = (await a3.get(`/v1/conversations/${cid}/messages?afterSeq=0&limit=30`)).body.items as Array<{ content: string, replyTo?: { content: string } }>
  t.same(oldest.slice(1).map((m) => m.replyTo?.content), oldest.slice(0, -1).map((m) => m.content), 'their quotes, re-encrypted too, read back')
  t.equal((await a3.get('/v1/search/messages?q=walruses&limit=50')).body.items.length, expected.length > 50 ? 50 : expected.length, 'search finds them by their words, hashed again under k2')
  const login = await third.app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: uniqueAddress(), payload: { login: ben.email, password: ben.password } })
  t.equal(login.statusCode, 200, 'login by email under k2 alone')
  const base3 = await third.app.listen({ port: 0, host: '127.0.0.1' })
  const got = async (path: string, headers: Record<string, string> = {}) => Buffer.from(await (await fetch(`${base3}${path}`, { headers: { ...ana.auth, ...headers } })).arrayBuffer())
  t.ok((await got(`/v1/attachments/${files[0]!.id}`)).equals(png), 'the picture reads back under k2 alone')
  t.ok((await got(`/v1/attachments/${files[0]!.id}/thumbnail`)).equals(Buffer.from(thumbnailUnderK1)), 'its thumbnail too')
  t.ok((await got(`/v1/attachments/${files[1]!.id}`)).equals(long), 'the long text, every segment')
  t.ok((await got(`/v1/attachments/${files[1]!.id}`, { range: 'bytes=70000-140000' })).equals(long.subarray(70000, 140001)), 'and a range across segments')
})
