import { DecryptError, keyIdOf, type KeyRing } from '../domain/keyring.js'
import { searchWordsOf } from '../domain/search.js'
import { randomBytes } from 'node:crypto'
import { blobOf, isUploaded, thumbnailBlobOf, type MessageRecord, type UploadRecord } from '../domain/types.js'
import type { Resealable, Store } from './port.js'
import { blobKeyId, encryptedBlobs } from './encrypted.js'

/** Per collection: values rewritten under the active key, values that would not decrypt, and what is left under each key after the run ('plaintext' for values never encrypted). */
export interface RotationReport {
  [collection: string]: { resealed: number, unreadable: number, left: Record<string, number> }
}

/** Where a value stands: the key it is sealed or hashed with, or plaintext. */
const standing = (value: string) => keyIdOf(value) ?? 'plaintext'

/**
 * Re-encrypts under the ring's active key what older keys (or no key)
 * sealed: message content, quote excerpts, upload names in messages and in
 * uploads, lastMessage excerpts, emails, event endpoints' secrets, outgoing
 * events' bodies, and the keyed hashes of search
 * words and emails (made again from the decrypted text). `inner` is the
 * store under the encryption (its records as stored). Each record is
 * rewritten only while the field it was read by is unchanged, so a write
 * made meanwhile (already under the active key) is never overwritten; a
 * crash leaves records either done or not, and running it again finishes.
 * Upload bytes (and thumbnails) are copied, decrypted and sealed again, to a
 * new name that the upload then points to (on the condition that it still
 * points to the old one), and the old bytes removed. A ring key with nothing
 * left under it is retired (the start then allows a ring without it).
 */
export async function rotateKeys (inner: Store, ring: KeyRing, opts: { batch?: number, onBatch?: (collection: string, seen: number) => void } = {}): Promise<{ collections: RotationReport, retired: string[] }> {
  const batch = opts.batch ?? 500
  const active = ring.active.id
  const report: RotationReport = {}
  const tally = (collection: string) => (report[collection] ??= { resealed: 0, unreadable: 0, left: {} })
  const leave = (collection: string, keyId: string) => { const t = tally(collection); t.left[keyId] = (t.left[keyId] ?? 0) + 1 }
  const current = (value: string | undefined) => value === undefined || value === '' || keyIdOf(value) === active

  async function walk<R extends { id: string }> (collection: string, repo: Resealable<R>, each: (r: R) => Promise<void>) {
    tally(collection)
    let seen = 0
    for (let page = await repo.scan(undefined, batch); page.length > 0; page = await repo.scan(page.at(-1)!.id, batch)) {
      for (const r of page) await each(r)
      seen += page.length
      opts.onBatch?.(collection, seen)
      if (page.length < batch) break
    }
  }

  /** Rewrites `set` on the condition that `field` still holds `value`. Either way it is under the active key now: a write that changed it meanwhile was made under that key. */
  async function reseal<R> (collection: string, repo: Resealable<R>, id: string, guard: { field: string, value: unknown }, set: Record<string, unknown>) {
    if (await repo.reseal(id, guard, set)) tally(collection).resealed++
    leave(collection, active)
  }

  const decryptOr = (collection: string, oldKey: string) => <T>(fn: () => T): T | undefined => {
    try {
      return fn()
    } catch (err) {
      if (!(err instanceof DecryptError)) throw err
      tally(collection).unreadable++
      leave(collection, oldKey)
      return undefined
    }
  }

  await walk('messages', inner.messages, async (m: MessageRecord) => {
    const names = m.attachments.filter(isUploaded).map((a) => a.name)
    const stale = !current(m.content) || (m.replyTo !== undefined && !current(m.replyTo.content)) || names.some((n) => !current(n)) ||
      (m.words !== undefined && m.words.some((w) => !w.startsWith(`h1.${active}.`)))
    if (!stale) { leave('messages', active); return }
    const opened = decryptOr('messages', standing(m.content))(() => {
      const content = ring.decrypt(m.content, `message:${m.id}:content`)
      return {
        content,
        quote: m.replyTo === undefined ? undefined : ring.decrypt(m.replyTo.content, `quote:${m.replyTo.id}`),
        attachments: m.attachments.map((a) => (isUploaded(a) ? { ...a, name: ring.decrypt(a.name, `attachment:${a.id}:name`) } : a))
      }
    })
    if (opened === undefined) return
    const set: Record<string, unknown> = {
      content: opened.content === '' ? '' : ring.encrypt(opened.content, `message:${m.id}:content`),
      attachments: opened.attachments.map((a) => (isUploaded(a) ? { ...a, name: ring.encrypt(a.name, `attachment:${a.id}:name`) } : a))
    }
    if (opened.quote !== undefined) set['replyTo.content'] = opened.quote === '' ? '' : ring.encrypt(opened.quote, `quote:${m.replyTo!.id}`)
    if (m.words !== undefined) set.words = (m.contentType === 'location' ? [] : searchWordsOf(opened.content)).map((w) => ring.hash('word', w))
    await reseal('messages', inner.messages, m.id, { field: 'content', value: m.content }, set)
  })

  await walk('conversations', inner.conversations, async (c) => {
    const last = c.lastMessage
    if (last === undefined || current(last.content)) { leave('conversations', active); return }
    const plain = decryptOr('conversations', standing(last.content))(() => ring.decrypt(last.content, `conversation:${c.id}:lastMessage`))
    if (plain === undefined) return
    await reseal('conversations', inner.conversations, c.id, { field: 'lastMessage.content', value: last.content }, { 'lastMessage.content': ring.encrypt(plain, `conversation:${c.id}:lastMessage`) })
  })

  await walk('users', inner.users, async (u) => {
    if (current(u.email) && u.emailLower.startsWith(`h1.${active}.`)) { leave('users', active); return }
    const plain = decryptOr('users', standing(u.email))(() => ring.decrypt(u.email, `user:${u.usernameLower}:email`))
    if (plain === undefined) return
    await reseal('users', inner.users, u.id, { field: 'email', value: u.email }, { email: ring.encrypt(plain, `user:${u.usernameLower}:email`), emailLower: ring.hash('email', plain.toLowerCase()) })
  })

  // Reads decrypt with whichever key sealed the bytes; writes seal under the active one. A failure is counted here, not logged.
  const sealedBlobs = encryptedBlobs(inner.blobs, ring, () => {})
  const copy = async (from: string, to: string) => { await sealedBlobs.write(to, sealedBlobs.read(from)) }

  /**
   * A stored upload's bytes under an older key (or none): copied to a new
   * name under the active key (a random one, so two runs never share a
   * copy), then the upload switched to it while it still points to the old
   * name, then the old bytes removed. Uploads being written are already under
   * the active key; uploads being removed are left to the sweep. A download
   * that started before the switch can be cut off when the old bytes go.
   */
  async function rotateBytes (r: UploadRecord): Promise<void> {
    if (r.state !== 'stored') return
    const from = blobOf(r)
    let keyId: string
    try {
      keyId = await blobKeyId(inner.blobs, from) ?? 'plaintext'
    } catch {
      return // No bytes: removed meanwhile.
    }
    if (keyId === active) { leave('attachment bytes', active); return }
    const to = `${r.id}.${active}-${randomBytes(4).toString('hex')}`
    const next = { id: r.id, blob: to }
    const drop = async (names: string[]) => { for (const name of names) await inner.blobs.delete(name) }
    try {
      await copy(from, to)
      if (r.thumbnail === true) await copy(thumbnailBlobOf(r), thumbnailBlobOf(next))
    } catch (err) {
      await drop([to, thumbnailBlobOf(next)])
      if (!(err instanceof DecryptError)) throw err
      tally('attachment bytes').unreadable++
      leave('attachment bytes', keyId)
      return
    }
    if (!await inner.attachments.reseal(r.id, { field: 'blob', value: r.blob }, { blob: to })) {
      // Removed, or switched by another run meanwhile: this copy is nobody's.
      await drop([to, thumbnailBlobOf(next)])
      return
    }
    tally('attachment bytes').resealed++
    leave('attachment bytes', active)
    await drop([from, thumbnailBlobOf(r)])
    // A sweep that read the upload before the switch removed the old bytes, not the copy: the copy goes too.
    const now = await inner.attachments.findById(r.id)
    if (now === null || now.state === 'deleting') await drop([to, thumbnailBlobOf(next)])
  }

  await walk('attachments', inner.attachments, async (r) => {
    tally('attachment bytes')
    await rotateBytes(r)
    if (current(r.name)) { leave('attachments', active); return }
    const plain = decryptOr('attachments', standing(r.name))(() => ring.decrypt(r.name, `attachment:${r.id}:name`))
    if (plain === undefined) return
    await reseal('attachments', inner.attachments, r.id, { field: 'name', value: r.name }, { name: ring.encrypt(plain, `attachment:${r.id}:name`) })
  })
  await walk('eventEndpoints', inner.eventEndpoints, async (e) => {
    if (current(e.secret)) { leave('eventEndpoints', active); return }
    const plain = decryptOr('eventEndpoints', standing(e.secret))(() => ring.decrypt(e.secret, `endpoint:${e.id}:secret`))
    if (plain === undefined) return
    await reseal('eventEndpoints', inner.eventEndpoints, e.id, { field: 'secret', value: e.secret }, { secret: ring.encrypt(plain, `endpoint:${e.id}:secret`) })
  })

  await walk('events', inner.outbox, async (e) => {
    if (current(e.body)) { leave('events', active); return }
    const plain = decryptOr('events', standing(e.body))(() => ring.decrypt(e.body, `event:${e.id}:body`))
    if (plain === undefined) return
    await reseal('events', inner.outbox, e.id, { field: 'body', value: e.body }, { body: ring.encrypt(plain, `event:${e.id}:body`) })
  })
  // A key of the ring that nothing is left under is retired: a start without it in the ring is then allowed.
  const stillUsed = new Set(Object.values(report).flatMap((r) => Object.entries(r.left).filter(([, n]) => n > 0).map(([key]) => key)))
  const retired: string[] = []
  for (const k of ring.keys) {
    if (k.id === active || stillUsed.has(k.id)) continue
    await inner.encryptionKeys.retire(k.id)
    retired.push(k.id)
  }
  return { collections: report, retired }
}
