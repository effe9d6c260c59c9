/**
 * Attachments over real HTTP (multipart bodies from fetch): a 20 MB round
 * trip, the size limit and the quota, Range, signed links (expired,
 * tampered, moved), thumbnails of real PNG and JPEG images, types found in
 * the bytes and risky ones served as downloads, what a send may carry,
 * deletion, the sweep, and memory that stays flat while a file streams in.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import sharp from 'sharp'
import type { FastifyInstance } from 'fastify'
import type { Db } from 'mongodb'
import { client, forEachStore, register, type Registered } from '../helper.js'
import { createAttachmentLinks } from '../../src/domain/attachments.js'
import { forEachDeployment } from '../realtime/nodes.js'
import { WsClient } from '../ws-client.js'

const URL_KEY = 'attachment-link-key-for-tests-0123456789abcdef'
const ENV = { ATTACHMENT_URL_KEY: URL_KEY }
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

interface Upload { status: number, body: any } // eslint-disable-line @typescript-eslint/no-explicit-any

async function listen (app: FastifyInstance): Promise<string> {
  return app.server.listening ? `http://127.0.0.1:${(app.server.address() as { port: number }).port}` : app.listen({ port: 0, host: '127.0.0.1' })
}

async function upload (base: string, user: Registered, conversationId: string, bytes: Uint8Array | Blob, name = 'file.bin', type = 'application/octet-stream', field = 'file'): Promise<Upload> {
  const form = new FormData()
  form.append(field, bytes instanceof Blob ? bytes : new Blob([bytes as BlobPart], { type }), name)
  const res = await fetch(`${base}/v1/conversations/${conversationId}/attachments`, { method: 'POST', headers: user.auth, body: form })
  return { status: res.status, body: await res.json() }
}

async function get (base: string, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, { headers })
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) }
}

/** Two participants of a direct conversation and a stranger, on a listening app. */
async function setup (app: FastifyInstance) {
  const base = await listen(app)
  const [ana, ben, eve] = [await register(app, 'att'), await register(app, 'att'), await register(app, 'att')]
  const api = client(app, ana)
  const cid = (await api.post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id as string
  return { base, ana, ben, eve, api, cid }
}

/** The test database's GridFS documents (mongo), to show nothing of a refused upload is left. */
async function gridCounts (app: FastifyInstance): Promise<{ files: number, chunks: number, records: number } | undefined> {
  const db = (app.store as unknown as { db?: Db }).db
  if (db === undefined) return undefined
  return { files: await db.collection('attachments.files').countDocuments(), chunks: await db.collection('attachments.chunks').countDocuments(), records: await db.collection('attachments').countDocuments() }
}

forEachStore(t, 'a 20 MB file: uploaded, carried by a message, downloaded by its signed link and with a bearer token, the same sha256', async (t, app) => {
  const { base, ana, ben, eve, api, cid } = await setup(app)
  const bytes = randomBytes(20 * 1024 * 1024)
  const up = await upload(base, ana, cid, bytes, 'big.bin', 'image/png')
  t.equal(up.status, 201, JSON.stringify(up.body).slice(0, 300))
  t.match(up.body, { id: /^[0-9a-f]{24}$/, conversationId: cid, name: 'big.bin', type: 'application/octet-stream', size: bytes.length, sha256: sha256(bytes), url: /^\/v1\/attachments\/[0-9a-f]{24}\?expires=\d+&signature=[\w-]+$/ })
  t.equal(up.body.thumbnailUrl, undefined, 'claimed image/png, but the bytes are no image: no thumbnail')

  const sent = await api.post(`/v1/conversations/${cid}/messages`, { contentType: 'file', content: 'the big one', attachments: [{ id: up.body.id }] })
  t.equal(sent.status, 201, JSON.stringify(sent.body))
  const [att] = sent.body.attachments
  t.match(att, { id: up.body.id, type: 'application/octet-stream', name: 'big.bin', size: bytes.length, sha256: sha256(bytes), url: String })
  const history = (await client(app, ben).get(`/v1/conversations/${cid}/messages`)).body.items
  t.equal(history[0].attachments[0].id, up.body.id, 'history carries it')

  const signed = await get(base, history[0].attachments[0].url)
  t.equal(signed.status, 200)
  t.equal(sha256(signed.bytes), sha256(bytes), 'the same bytes, by the signed link, no header')
  t.equal(signed.headers.get('content-length'), String(bytes.length))
  t.equal(signed.headers.get('content-type'), 'application/octet-stream')
  t.equal(signed.headers.get('etag'), `"${sha256(bytes)}"`)
  t.equal(signed.headers.get('x-content-type-options'), 'nosniff')
  t.match(signed.headers.get('content-disposition'), /^attachment; filename="big.bin"/)
  const bare = `/v1/attachments/${up.body.id}`
  t.equal((await get(base, bare, ben.auth)).status, 200, 'a participant\'s bearer token, no signature')
  t.equal((await get(base, bare, eve.auth)).status, 403, 'a stranger\'s bearer token: 403')
  t.equal((await get(base, bare)).status, 401, 'neither: 401')
  t.equal((await get(base, '/v1/attachments/665f1c2ab4d5e6f7a8b9c0d1', ben.auth)).status, 404, 'an unknown id')
  t.equal((await get(base, '/v1/attachments/nope', ben.auth)).status, 400, 'a malformed id')
})

forEachStore(t, 'Range: 206 with Content-Range, a suffix, an open end; 416 outside; several ranges answer whole; If-None-Match 304', async (t, app) => {
  const { base, ana, cid } = await setup(app)
  const bytes = randomBytes(600_000)
  const { body } = await upload(base, ana, cid, bytes)
  const r1 = await get(base, body.url, { range: 'bytes=0-99' })
  t.equal(r1.status, 206)
  t.equal(r1.headers.get('content-range'), `bytes 0-99/${bytes.length}`)
  t.equal(r1.headers.get('content-length'), '100')
  t.ok(r1.bytes.equals(bytes.subarray(0, 100)))
  const r2 = await get(base, body.url, { range: 'bytes=300000-' })
  t.equal(r2.status, 206)
  t.ok(r2.bytes.equals(bytes.subarray(300_000)), 'an open end, across chunks')
  const r3 = await get(base, body.url, { range: 'bytes=-10' })
  t.ok(r3.bytes.equals(bytes.subarray(bytes.length - 10)), 'the last 10 bytes')
  const r4 = await get(base, body.url, { range: `bytes=${bytes.length}-` })
  t.equal(r4.status, 416)
  t.equal(r4.headers.get('content-range'), `bytes */${bytes.length}`)
  const r5 = await get(base, body.url, { range: 'bytes=0-1,5-6' })
  t.equal(r5.status, 200, 'several ranges: the whole file')
  t.equal(r5.bytes.length, bytes.length)
  const r6 = await get(base, body.url, { 'if-none-match': `"${sha256(bytes)}"` })
  t.equal(r6.status, 304)
})

forEachStore(t, 'signed links: a tampered, an expired, or another upload\'s signature is refused (403); the link works for whoever holds it', async (t, app) => {
  const { base, ana, eve, cid } = await setup(app)
  const one = (await upload(base, ana, cid, Buffer.from('one'))).body
  const two = (await upload(base, ana, cid, Buffer.from('two'))).body
  t.equal((await get(base, one.url)).status, 200, 'the link as given')
  t.equal((await get(base, one.url, eve.auth)).status, 200, 'whoever holds the link (it is the credential)')
  const tampered = one.url.replace(/signature=(.)/, (_: string, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`)
  const refused = await get(base, tampered)
  t.equal(refused.status, 403)
  t.equal(JSON.parse(refused.bytes.toString()).code, 'FORBIDDEN')
  const moved = one.url.replace(one.id, two.id)
  t.equal((await get(base, moved)).status, 403, 'a signature moved to another upload')
  const extended = one.url.replace(/expires=(\d+)/, (_: string, e: string) => `expires=${Number(e) + 3600}`)
  t.equal((await get(base, extended)).status, 403, 'an expiry moved on')
  const past = createAttachmentLinks(Buffer.from(URL_KEY), 60, '', () => Date.now() - 3 * 3600_000)
  const expired = await get(base, past.signed(one.id, 'file'))
  t.equal(expired.status, 403, 'signed with the right key, expired')
  t.match(JSON.parse(expired.bytes.toString()).message, /expired/)
  t.equal((await get(base, `/v1/attachments/${one.id}?expires=abc&signature=x`)).status, 403, 'malformed')
  t.equal((await get(base, `/v1/attachments/${one.id}?signature=x`)).status, 403, 'half a signature')
}, { env: ENV })

forEachStore(t, 'thumbnails of a real PNG and a rotated JPEG, width and height as shown; an image that does not decode is stored without one', async (t, app) => {
  const { base, ana, cid } = await setup(app)
  const png = await sharp({ create: { width: 800, height: 600, channels: 4, background: { r: 30, g: 120, b: 200, alpha: 0.5 } } }).png().toBuffer()
  const p = (await upload(base, ana, cid, png, 'sky.png', 'application/octet-stream')).body
  t.match(p, { type: 'image/png', width: 800, height: 600, thumbnailUrl: /\/v1\/attachments\/[0-9a-f]{24}\/thumbnail\?expires=/ })
  const thumb = await get(base, p.thumbnailUrl)
  t.equal(thumb.status, 200)
  t.equal(thumb.headers.get('content-type'), 'image/webp')
  t.match(await sharp(thumb.bytes).metadata(), { format: 'webp', width: 320, height: 240 })
  t.equal((await get(base, p.url.replace('/thumbnail', ''))).headers.get('content-type'), 'image/png')

  // 1000×500 stored, EXIF orientation 6 (turned a quarter): shown 500×1000.
  const jpeg = await sharp({ create: { width: 1000, height: 500, channels: 3, background: '#c33' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer()
  const j = (await upload(base, ana, cid, jpeg, 'photo.jpg', 'image/jpeg')).body
  t.match(j, { type: 'image/jpeg', width: 500, height: 1000 })
  t.match(await sharp((await get(base, j.thumbnailUrl)).bytes).metadata(), { width: 160, height: 320 })

  const small = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#393' } }).webp().toBuffer()
  const s = (await upload(base, ana, cid, small, 'tiny.webp')).body
  t.match(await sharp((await get(base, s.thumbnailUrl)).bytes).metadata(), { width: 40, height: 30 }, 'never enlarged')

  const broken = Buffer.concat([png.subarray(0, 64), randomBytes(2000)])
  const b = await upload(base, ana, cid, broken, 'broken.png', 'image/png')
  t.equal(b.status, 201, 'stored, not refused')
  t.equal(b.body.type, 'image/png')
  t.equal(b.body.thumbnailUrl, undefined)
  t.equal(b.body.width, undefined)
  t.equal((await get(base, `/v1/attachments/${b.body.id}/thumbnail`, ana.auth)).status, 404, 'no thumbnail to download')
})

forEachStore(t, 'the type is found in the bytes; HTML, SVG and JavaScript are served as downloads, sandboxed, never sniffed', async (t, app) => {
  const { base, ana, cid } = await setup(app)
  const html = (await upload(base, ana, cid, Buffer.from('<!DOCTYPE html><html><script>alert(1)</script></html>'), 'cat.png', 'image/png')).body
  t.equal(html.type, 'text/html', 'claimed image/png, found HTML')
  const h = await get(base, html.url)
  t.equal(h.headers.get('content-type'), 'text/html')
  t.match(h.headers.get('content-disposition'), /^attachment; /)
  t.equal(h.headers.get('x-content-type-options'), 'nosniff')
  t.match(h.headers.get('content-security-policy'), /sandbox/)
  const svg = (await upload(base, ana, cid, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'), 'x.svg', 'image/svg+xml')).body
  t.equal(svg.type, 'image/svg+xml')
  t.match((await get(base, svg.url)).headers.get('content-disposition'), /^attachment; /)
  const js = (await upload(base, ana, cid, Buffer.from('alert(document.cookie)'), 'a.js', 'text/javascript')).body
  t.equal(js.type, 'text/javascript')
  t.match((await get(base, js.url)).headers.get('content-disposition'), /^attachment; /)
  const text = (await upload(base, ana, cid, Buffer.from('just words'), 'notes.txt', 'image/jpeg')).body
  t.equal(text.type, 'text/plain', 'claimed image/jpeg, found text')
  const t2 = await get(base, text.url)
  t.equal(t2.headers.get('content-type'), 'text/plain; charset=utf-8')
  t.match(t2.headers.get('content-disposition'), /^inline; filename="notes.txt"/)
  const named = (await upload(base, ana, cid, Buffer.from('x'), '..\\..\\etc/pässwd.txt')).body
  t.equal(named.name, 'pässwd.txt', 'the basename')
  t.match((await get(base, named.url)).headers.get('content-disposition'), /filename="p_sswd.txt"; filename\*=UTF-8''p%C3%A4sswd.txt/)
})

forEachStore(t, 'over ATTACHMENT_MAX_BYTES: 413 and nothing left; the quota counts what a user\'s uploads hold, and frees with deletion', async (t, app) => {
  const { base, ana, api, cid } = await setup(app)
  const over = await upload(base, ana, cid, randomBytes(300_001))
  t.equal(over.status, 413)
  t.equal(over.body.code, 'PAYLOAD_TOO_LARGE')
  t.equal(await app.store.attachments.usage(ana.id), 0, 'no record of it')
  t.same(await app.store.attachments.deleting(10), [])
  const counts = await gridCounts(app)
  if (counts !== undefined) t.same(counts, { files: 0, chunks: 0, records: 0 }, 'no GridFS file, chunk or record left')
  const first = await upload(base, ana, cid, randomBytes(250_000))
  t.equal(first.status, 201)
  const second = await upload(base, ana, cid, randomBytes(250_000))
  t.equal(second.status, 413, 'over the quota of 400,000 bytes')
  t.match(second.body.message, /quota/)
  const sent = (await api.post(`/v1/conversations/${cid}/messages`, { contentType: 'file', attachments: [{ id: first.body.id }] })).body
  t.equal((await api.del(`/v1/conversations/${cid}/messages/${sent.id}`)).status, 204)
  t.equal((await get(base, first.body.url)).status, 404, 'the deleted message\'s upload is gone')
  t.equal(await app.store.attachments.usage(ana.id), 0)
  t.equal((await upload(base, ana, cid, randomBytes(250_000))).status, 201, 'room again')
  const after = await gridCounts(app)
  if (after !== undefined) t.same(after, { files: 1, chunks: 1, records: 1 }, 'only the last upload\'s bytes remain')
}, { env: { ATTACHMENT_MAX_BYTES: '300000', ATTACHMENT_QUOTA_BYTES: '400000' } })

forEachStore(t, 'uploads into one conversation are rate limited (429 with Retry-After), by all its participants together; another conversation is not', async (t, app) => {
  const { base, ana, ben, api, cid } = await setup(app)
  t.equal((await upload(base, ana, cid, Buffer.from('1'))).status, 201)
  t.equal((await upload(base, ben, cid, Buffer.from('2'))).status, 201)
  const res = await fetch(`${base}/v1/conversations/${cid}/attachments`, { method: 'POST', headers: ana.auth, body: (() => { const f = new FormData(); f.append('file', new Blob(['3']), 'c'); return f })() })
  t.equal(res.status, 429)
  t.equal((await res.json()).code, 'RATE_LIMITED')
  t.ok(Number(res.headers.get('retry-after')) > 0, 'with Retry-After')
  const other = (await api.post('/v1/conversations', { type: 'group', name: 'other', participantIds: [ben.id] })).body.id
  t.equal((await upload(base, ana, other, Buffer.from('4'))).status, 201, 'another conversation has its own count')
}, { env: { RATE_LIMIT_UPLOAD_CONVERSATION: '2/60000' } })

forEachStore(t, 'a send carries only the sender\'s own uploads to that conversation, each once; a resend carries them again', async (t, app) => {
  const { base, ana, ben, api, cid } = await setup(app)
  const mine = (await upload(base, ana, cid, Buffer.from('mine'))).body
  const bens = (await upload(base, ben, cid, Buffer.from('his'))).body
  const other = (await api.post('/v1/conversations', { type: 'group', name: 'g', participantIds: [ben.id] })).body.id
  const elsewhere = (await upload(base, ana, other, Buffer.from('elsewhere'))).body
  const send = (attachments: unknown[], extra: object = {}) => api.post(`/v1/conversations/${cid}/messages`, { contentType: 'file', attachments, ...extra })
  for (const [what, attachments, field] of [
    ['another user\'s upload', [{ id: bens.id }], 'attachments.0.id'],
    ['an upload to another conversation', [{ id: elsewhere.id }], 'attachments.0.id'],
    ['an unknown id', [{ id: '665f1c2ab4d5e6f7a8b9c0d1' }], 'attachments.0.id'],
    ['the same upload twice', [{ id: mine.id }, { id: mine.id }], 'attachments.1.id'],
    ['a malformed id', [{ id: 'x' }], undefined],
    ['an id with other keys', [{ id: mine.id, url: 'https://x.test/a' }], undefined]
  ] as Array<[string, unknown[], string | undefined]>) {
    const res = await send(attachments)
    t.equal(res.status, 400, what)
    t.equal(res.body.code, 'VALIDATION_ERROR', what)
    if (field !== undefined) t.equal(res.body.field, field, `${what}: ${field}`)
  }
  const first = await send([{ id: mine.id }, { url: 'https://cdn.example.com/x.png', type: 'image/png' }], { clientMessageId: 'with-upload' })
  t.equal(first.status, 201)
  t.match(first.body.attachments, [{ id: mine.id, url: /^\/v1\/attachments\// }, { url: 'https://cdn.example.com/x.png', type: 'image/png' }], 'an upload and a link, in order')
  const again = await send([{ id: mine.id }], { clientMessageId: 'with-upload' })
  t.equal(again.status, 200, 'the resend answers the first message')
  t.equal(again.body.id, first.body.id)
  const taken = await send([{ id: mine.id }])
  t.equal(taken.status, 400, 'an upload another message carries')
  t.match(taken.body.message, /another message/)
  t.equal((await send([])).status, 400, 'a file message needs an attachment')
})

forEachStore(t, 'uploads: participants only; a body without a file part, a file under another name, or not multipart at all is a VALIDATION_ERROR', async (t, app) => {
  const { base, ana, eve, cid } = await setup(app)
  const stranger = await upload(base, eve, cid, Buffer.from('x'))
  t.equal(stranger.status, 403)
  t.equal((await upload(base, ana, '665f1c2ab4d5e6f7a8b9c0d1', Buffer.from('x'))).status, 404)
  const wrongName = await upload(base, ana, cid, Buffer.from('x'), 'a.txt', 'text/plain', 'upload')
  t.equal(wrongName.status, 400)
  t.equal(wrongName.body.field, 'file')
  const post = (body: string | FormData, type?: string) => fetch(`${base}/v1/conversations/${cid}/attachments`, { method: 'POST', headers: { ...ana.auth, ...(type !== undefined && { 'content-type': type }) }, body })
  const fieldsOnly = new FormData()
  fieldsOnly.append('note', 'no file here')
  const f = await post(fieldsOnly)
  t.equal(f.status, 400)
  t.equal((await f.json()).code, 'VALIDATION_ERROR')
  const json = await post('{"file":"x"}', 'application/json')
  t.equal(json.status, 400, 'JSON: not multipart')
  t.equal((await json.json()).code, 'VALIDATION_ERROR')
  const none = await fetch(`${base}/v1/conversations/${cid}/attachments`, { method: 'POST', headers: ana.auth })
  t.equal(none.status, 400, 'no body')
  t.equal(await app.store.attachments.usage(ana.id), 0, 'nothing stored by any of them')
})

forEachStore(t, 'the sweep removes an upload no message took in time, keeps one a message carries, and runs once per window', async (t, app) => {
  const { base, ana, api, cid } = await setup(app)
  const orphan = (await upload(base, ana, cid, Buffer.from('never sent'))).body
  const kept = (await upload(base, ana, cid, Buffer.from('sent'))).body
  await api.post(`/v1/conversations/${cid}/messages`, { contentType: 'file', attachments: [{ id: kept.id }] })
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const window = Math.floor(Date.now() / 1000)
  t.match(await app.services.attachments.sweep(window), { swept: true, removed: 1 })
  t.match(await app.services.attachments.sweep(window), { swept: false }, 'the same window: another node ran it')
  t.equal((await get(base, orphan.url)).status, 404, 'the orphan is gone')
  t.equal((await get(base, kept.url)).status, 200, 'the carried one stays')
  const late = await api.post(`/v1/conversations/${cid}/messages`, { contentType: 'file', attachments: [{ id: orphan.id }] })
  t.equal(late.status, 400, 'a swept upload cannot be sent')
  t.match(await app.services.attachments.sweep(window + 1), { swept: true, removed: 0 }, 'nothing more to remove')
  t.equal((await get(base, kept.url)).status, 200)
}, { env: { ATTACHMENT_ORPHAN_TTL_MS: '1000' } })

forEachStore(t, 'a node that stops between the claim and the message: the sweep settles an upload its message carries and removes one no message took', async (t, app) => {
  const { base, ana, api, cid } = await setup(app)
  const carried = (await upload(base, ana, cid, Buffer.from('carried'))).body
  const dropped = (await upload(base, ana, cid, Buffer.from('dropped'))).body
  const sent = (await api.post(`/v1/conversations/${cid}/messages`, { contentType: 'file', attachments: [{ id: carried.id }], clientMessageId: 'c-carried' })).body
  // As a stopped node leaves them: the message stored but its upload not settled; a claim whose send never stored a message.
  const store = app.store
  const record = (await store.attachments.findById(carried.id))!
  await store.attachments.remove(carried.id)
  const unsettled = { ...record }
  delete unsettled.messageId
  await store.attachments.insert({ ...unsettled, claim: { clientMessageId: 'c-carried', at: new Date(Date.now() - 3600_000) } })
  await store.attachments.claim([dropped.id], 'c-never-stored', new Date(Date.now() - 3600_000))
  const { createAttachmentService } = await import('../../src/services/attachments.js')
  const service = createAttachmentService({ store, links: app.attachmentLinks, maxBytes: 1e6, quotaBytes: 1e9, orphanTtlMs: 86_400_000, uploadGraceMs: 3600_000 })
  t.match(await service.sweep(Math.floor(Date.now() / 1000)), { swept: true, removed: 1 })
  t.equal((await store.attachments.findById(carried.id))?.messageId, sent.id, 'settled on its message')
  t.equal((await get(base, carried.url)).status, 200)
  t.equal((await get(base, dropped.url)).status, 404, 'the one no message took is removed')
  // A deletion whose first run stopped before the bytes went: a rerun of DELETE finishes it.
  t.equal((await api.del(`/v1/conversations/${cid}/messages/${sent.id}`)).status, 204)
  await store.attachments.insert({ ...record, id: carried.id, messageId: sent.id })
  t.equal((await api.del(`/v1/conversations/${cid}/messages/${sent.id}`)).status, 204, 'deleting again')
  t.equal(await store.attachments.findById(carried.id), null, 'the rerun removed what the first left')
})

forEachStore(t, 'while a 20 MB file streams in, the server\'s memory stays flat (the bytes are never held whole)', async (t, app, storeKind) => {
  if (storeKind === 'memory') { t.pass('the embedded store keeps every byte in memory by design; measured on MongoDB'); return }
  const { base, ana, cid } = await setup(app)
  // The client is a process of its own (so its copy of the file is not counted), reading the file from disk.
  const dir = mkdtempSync(join(tmpdir(), 'upload-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'big.bin')
  writeFileSync(file, randomBytes(20 * 1024 * 1024))
  await upload(base, ana, cid, Buffer.from('warm up'))
  // What is held, not what is garbage yet: each sample follows a full collection (V8's gc(), exposed for this test).
  v8.setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  const before = process.memoryUsage()
  let peakBuffers = before.arrayBuffers
  let peakRss = before.rss
  let samples = 0
  const sampler = setInterval(() => {
    gc()
    const m = process.memoryUsage()
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers)
    peakRss = Math.max(peakRss, m.rss)
    samples++
  }, 20)
  const script = `const form = new FormData(); form.append('file', await (await import('node:fs')).openAsBlob(process.argv[1]), 'big.bin');
const res = await fetch(process.argv[2], { method: 'POST', headers: { authorization: process.argv[3] }, body: form });
process.stdout.write(JSON.stringify({ status: res.status, body: await res.json() }))`
  const child = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script, file, `${base}/v1/conversations/${cid}/attachments`, ana.auth.authorization], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => err === null ? resolve(stdout) : reject(new Error(`${err.message} ${stderr}`)))
  })
  clearInterval(sampler)
  // Once more after the answer: bytes kept by the server in memory would show here whatever the samples missed.
  gc()
  peakBuffers = Math.max(peakBuffers, process.memoryUsage().arrayBuffers)
  const up = JSON.parse(child) as Upload
  t.equal(up.status, 201)
  t.equal(up.body.size, 20 * 1024 * 1024)
  t.ok(samples >= 5, `${samples} samples while it streamed in`)
  const mb = (n: number) => Math.round(n / 1024 / 102.4) / 10
  t.ok(peakBuffers - before.arrayBuffers < 8 * 1024 * 1024, `the buffers held rose by ${mb(peakBuffers - before.arrayBuffers)} MB at most (under 8; the file is 20)`)
  t.ok(peakRss - before.rss < 20 * 1024 * 1024, `RSS rose by ${mb(peakRss - before.rss)} MB at most (under 20)`)
})

forEachDeployment(t, 'over the websocket: a send_message carries an upload; every node delivers it with links that open', async (t, nodes) => {
  const [na, nb] = [nodes[0]!, nodes[1]!]
  const base = na.base
  const ana = await register(na.app, 'attws')
  const ben = await register(na.app, 'attws')
  const cid = (await client(na.app, ana).post('/v1/conversations', { type: 'direct', participantIds: [ben.id] })).body.id
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#246' } }).png().toBuffer()
  const up = (await upload(base, ana, cid, png, 'dot.png', 'image/png')).body
  const sender = await WsClient.connect(na.base, ana.accessToken)
  const receiver = await WsClient.connect(nb.base, ben.accessToken)
  t.teardown(() => { sender.close(); receiver.close() })
  await receiver.roundTrip()
  sender.send({ type: 'send_message', conversationId: cid, contentType: 'image', content: 'a dot', attachments: [{ id: up.id }], clientMessageId: 'ws-up-1' })
  const [ack] = await sender.waitFor('message_sent')
  t.ok(ack!.messageId)
  const [delivered] = await receiver.waitFor('new_message')
  const [att] = delivered!.message.attachments
  t.match(att, { id: up.id, type: 'image/png', width: 64, height: 64, thumbnailUrl: String })
  const bytes = await get(nb.base, att.url)
  t.equal(sha256(bytes.bytes), sha256(png), 'the link opens on the other node too')
  t.equal((await get(nb.base, att.thumbnailUrl)).status, 200)
  sender.send({ type: 'send_message', conversationId: cid, contentType: 'image', attachments: [{ id: up.id }], clientMessageId: 'ws-up-2' })
  const [refused] = await sender.waitFor('error')
  t.match(refused, { code: 'VALIDATION_ERROR', clientMessageId: 'ws-up-2' }, 'an upload another message carries: refused on the socket too')
})
