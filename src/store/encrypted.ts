import { DecryptError, type KeyRing } from '../domain/keyring.js'
import { DuplicateKeyError } from '../domain/errors.js'
import { isUploaded, type Attachment, type ConversationRecord, type LastMessage, type MessageRecord, type UploadRecord, type UserRecord } from '../domain/types.js'
import { isClaim, type BlobRepository, type Store, type TimelineEntry } from './port.js'
import type { EventEndpointRecord, OutboxEventRecord } from '../domain/outgoing.js'

/** A value that would not decrypt: where it was, for the log (never the value). */
export type DecryptFailure = (err: DecryptError, where: { collection: string, id: string, field: string }) => void

/**
 * Encryption at rest, as a decorator of the store port, so both adapters
 * (and their contract suite) behave alike with it and without it. Message
 * content, quote excerpts, the conversation's lastMessage excerpt, upload
 * file names (in uploads and in messages) and users' emails are stored
 * encrypted (AES-256-GCM, see keyring.ts); search words and the email's
 * unique index hold keyed hashes. The associated data of each value names
 * its document and field:
 *
 *   message:<id>:content     quote:<quoted message id>     conversation:<id>:lastMessage
 *   attachment:<id>:name     user:<usernameLower>:email
 *
 * Upload bytes are sealed in segments (encryptedBlobs). A value that does
 * not decrypt (tampered with, moved) is logged and read as empty (a message
 * then carries `unreadable`); nothing else fails.
 */
export function encryptedStore (inner: Store, ring: KeyRing, onFailure: DecryptFailure = () => {}): Store {
  const open = (stored: string, collection: string, id: string, field: string, aad: string): { value: string, ok: boolean } => {
    try {
      return { value: ring.decrypt(stored, aad), ok: true }
    } catch (err) {
      if (!(err instanceof DecryptError)) throw err
      onFailure(err, { collection, id, field })
      return { value: '', ok: false }
    }
  }

  const sealName = (a: Attachment): Attachment => (isUploaded(a) ? { ...a, name: ring.encrypt(a.name, `attachment:${a.id}:name`) } : a)
  const openName = (a: Attachment, messageId: string): Attachment => (isUploaded(a) ? { ...a, name: open(a.name, 'messages', messageId, 'attachments.name', `attachment:${a.id}:name`).value } : a)

  function sealMessage (m: MessageRecord): MessageRecord {
    return {
      ...m,
      content: m.content === '' ? '' : ring.encrypt(m.content, `message:${m.id}:content`),
      attachments: m.attachments.map(sealName),
      ...(m.replyTo !== undefined && { replyTo: { ...m.replyTo, content: m.replyTo.content === '' ? '' : ring.encrypt(m.replyTo.content, `quote:${m.replyTo.id}`) } }),
      ...(m.words !== undefined && { words: m.words.map((w) => ring.hash('word', w)) })
    }
  }

  function openMessage (m: MessageRecord): MessageRecord {
    const content = open(m.content, 'messages', m.id, 'content', `message:${m.id}:content`)
    // The words are keyed hashes: of no use above the store, so not handed up.
    const out: MessageRecord = { ...m, content: content.value, attachments: m.attachments.map((a) => openName(a, m.id)) }
    delete out.words
    if (m.replyTo !== undefined) out.replyTo = { ...m.replyTo, content: open(m.replyTo.content, 'messages', m.id, 'replyTo.content', `quote:${m.replyTo.id}`).value }
    if (!content.ok) out.unreadable = true
    return out
  }
  const openMessages = (list: MessageRecord[]) => list.map(openMessage)
  const openOrNull = (m: MessageRecord | null) => (m === null ? null : openMessage(m))

  const sealLast = (id: string, last: LastMessage): LastMessage => ({ ...last, content: last.content === '' ? '' : ring.encrypt(last.content, `conversation:${id}:lastMessage`) })
  function openConversation (c: ConversationRecord): ConversationRecord
  function openConversation (c: ConversationRecord | null): ConversationRecord | null
  function openConversation (c: ConversationRecord | null): ConversationRecord | null {
    if (c?.lastMessage === undefined) return c
    return { ...c, lastMessage: { ...c.lastMessage, content: open(c.lastMessage.content, 'conversations', c.id, 'lastMessage.content', `conversation:${c.id}:lastMessage`).value } }
  }

  function openUser (u: UserRecord | null): UserRecord | null {
    if (u === null) return null
    const email = open(u.email, 'users', u.id, 'email', `user:${u.usernameLower}:email`).value
    return { ...u, email, emailLower: email.toLowerCase() }
  }

  const openUpload = (r: UploadRecord): UploadRecord => ({ ...r, name: open(r.name, 'attachments', r.id, 'name', `attachment:${r.id}:name`).value })

  const { users, conversations, messages, attachments, eventEndpoints, outbox } = inner
  // An endpoint's secret and an event's body (it carries message content) are sealed too; one that does not open reads as ''.
  const openEndpoint = (e: EventEndpointRecord): EventEndpointRecord => ({ ...e, secret: open(e.secret, 'eventEndpoints', e.id, 'secret', `endpoint:${e.id}:secret`).value })
  const openEvent = (e: OutboxEventRecord): OutboxEventRecord => ({ ...e, body: open(e.body, 'events', e.id, 'body', `event:${e.id}:body`).value })
  return {
    ...inner,
    eventEndpoints: {
      ...eventEndpoints,
      insert: (e) => eventEndpoints.insert({ ...e, secret: ring.encrypt(e.secret, `endpoint:${e.id}:secret`) }),
      findById: async (id) => { const e = await eventEndpoints.findById(id); return e === null ? null : openEndpoint(e) },
      list: async () => (await eventEndpoints.list()).map(openEndpoint)
    },
    outbox: {
      ...outbox,
      record: (events) => outbox.record(events.map((e) => ({ ...e, body: ring.encrypt(e.body, `event:${e.id}:body`) }))),
      claimNew: async (now, until, limit) => (await outbox.claimNew(now, until, limit)).map(openEvent),
      findEvents: async (ids) => (await outbox.findEvents(ids)).map(openEvent)
    },
    blobs: encryptedBlobs(inner.blobs, ring, onFailure),
    users: {
      ...users,
      async create (input) {
        const lower = input.email.toLowerCase()
        // Under every key of the ring, and as stored before encryption was on: an email registered so is taken too.
        for (const h of [...ring.hashes('email', lower), lower]) if (await users.findByLogin(h) !== null) throw new DuplicateKeyError('email')
        const created = await users.create({ ...input, email: ring.encrypt(input.email, `user:${input.username.toLowerCase()}:email`), emailLower: ring.hash('email', lower) })
        return openUser(created)!
      },
      findById: async (id) => openUser(await users.findById(id)),
      findByIds: async (ids) => (await users.findByIds(ids)).map((u) => openUser(u)!),
      async findByLogin (loginLower) {
        // Usernames hold no '@': a login with one is an email, found by its keyed hash under any key.
        if (!loginLower.includes('@')) return openUser(await users.findByLogin(loginLower))
        for (const h of ring.hashes('email', loginLower)) {
          const found = await users.findByLogin(h)
          if (found !== null) return openUser(found)
        }
        // An account made before encryption was turned on keeps its plaintext address until it is re-encrypted.
        return openUser(await users.findByLogin(loginLower))
      },
      searchByUsernamePrefix: async (prefix, limit) => (await users.searchByUsernamePrefix(prefix, limit)).map((u) => openUser(u)!),
      update: async (id, patch) => openUser(await users.update(id, patch))
    },
    conversations: {
      ...conversations,
      insert: async (c) => openConversation(await conversations.insert(c.lastMessage === undefined ? c : { ...c, lastMessage: sealLast(c.id, c.lastMessage) })),
      findById: async (id) => openConversation(await conversations.findById(id)),
      findByDirectKey: async (key) => openConversation(await conversations.findByDirectKey(key)),
      listForUser: async (userId, limit, after) => (await conversations.listForUser(userId, limit, after)).map((c) => openConversation(c)),
      setLastMessage: (id, last, at) => conversations.setLastMessage(id, sealLast(id, last), at),
      replaceLastMessage: (id, last, at) => conversations.replaceLastMessage(id, sealLast(id, last), at),
      update: async (id, patch, at, version) => openConversation(await conversations.update(id, patch, at, version)),
      setParticipants: async (id, ids, at, version) => openConversation(await conversations.setParticipants(id, ids, at, version))
    },
    messages: {
      ...messages,
      insertMany: (entries) => messages.insertMany(entries.map((e: TimelineEntry) => (isClaim(e) ? e : sealMessage(e)))),
      findById: async (key) => openOrNull(await messages.findById(key)),
      findByClientMessageId: async (c, s, k) => openOrNull(await messages.findByClientMessageId(c, s, k)),
      page: async (c, q) => { const p = await messages.page(c, q); return { ...p, items: openMessages(p.items) } },
      changedSince: async (c, v, l) => { const p = await messages.changedSince(c, v, l); return { ...p, items: openMessages(p.items) } },
      edit: async (key, content, at, version, mentions, words) => openOrNull(await messages.edit(key, ring.encrypt(content, `message:${key.id}:content`), at, version, mentions, words?.map((w) => ring.hash('word', w)))),
      tombstone: async (key, at, version) => openOrNull(await messages.tombstone(key, at, version)),
      setPin: async (key, pin, version) => openOrNull(await messages.setPin(key, pin, version)),
      pinned: async (c, l) => openMessages(await messages.pinned(c, l)),
      setThread: async (key, thread, version) => openOrNull(await messages.setThread(key, thread, version)),
      updateQuotes: (c, quotedId, content) => messages.updateQuotes(c, quotedId, content === '' ? '' : ring.encrypt(content, `quote:${quotedId}`)),
      touch: async (key, version) => openOrNull(await messages.touch(key, version)),
      unindexed: async (limit) => openMessages(await messages.unindexed(limit)),
      setWords: (key, words) => messages.setWords(key, words.map((w) => ring.hash('word', w))),
      // The words are hashed under each key of the ring: a message is found whichever key hashed its words.
      search: async (q) => openMessages(await messages.search({
        ...q,
        // Also the words themselves: a message stored before encryption was turned on keeps them in plaintext.
        wordSets: q.wordSets.flatMap((set) => {
          const hashes = set.map((w) => ring.hashes('word', w))
          return [...ring.keys.map((_, i) => hashes.map((h) => h[i]!)), set]
        })
      }))
    },
    attachments: {
      ...attachments,
      insert: (r) => attachments.insert({ ...r, name: ring.encrypt(r.name, `attachment:${r.id}:name`) }),
      findById: async (id) => { const r = await attachments.findById(id); return r === null ? null : openUpload(r) },
      findByIds: async (ids) => (await attachments.findByIds(ids)).map(openUpload),
      unsettled: async (before, limit) => (await attachments.unsettled(before, limit)).map(openUpload),
      deleting: async (limit) => (await attachments.deleting(limit)).map(openUpload)
    }
  }
}

/** Plaintext bytes per encrypted segment of an upload: a Range reads the segments it touches, each decrypted alone. */
export const SEGMENT_BYTES = 64 * 1024
/** What sealing adds to a segment: its nonce and its tag. */
const SEALING = 12 + 16
const MAGIC = 'ENC1'
/** A blob's header: MAGIC, the key id's length, the key id, padded with zeros. */
const HEADER = 40

function headerOf (keyId: string): Buffer {
  const h = Buffer.alloc(HEADER)
  h.write(MAGIC, 0, 'latin1')
  h.writeUInt8(keyId.length, 4)
  h.write(keyId, 5, 'latin1')
  return h
}

/** The key id of an encrypted blob's header; undefined for bytes stored in plaintext (before encryption was on). */
function keyIdOfHeader (head: Buffer): string | undefined {
  if (head.length < HEADER || head.toString('latin1', 0, 4) !== MAGIC) return undefined
  return head.toString('latin1', 5, 5 + head.readUInt8(4))
}

async function firstBytes (source: AsyncIterable<Uint8Array>, n: number): Promise<Buffer> {
  const parts: Buffer[] = []
  let have = 0
  for await (const chunk of source) {
    parts.push(Buffer.from(chunk))
    have += chunk.byteLength
    if (have >= n) break
  }
  return Buffer.concat(parts).subarray(0, n)
}

/** The key an upload's stored bytes are sealed with (read from their header); undefined for bytes stored in plaintext. */
export async function blobKeyId (blobs: BlobRepository, id: string): Promise<string | undefined> {
  return keyIdOfHeader(await firstBytes(blobs.read(id), HEADER))
}

/**
 * Upload bytes encrypted in segments of SEGMENT_BYTES, each sealed alone
 * (AES-256-GCM; its associated data names the blob, its index, and whether it
 * is the last), so a download streams and a Range decrypts only the segments
 * it touches; a segment moved, reordered or cut off does not open.
 */
export function encryptedBlobs (blobs: BlobRepository, ring: KeyRing, onFailure: DecryptFailure): BlobRepository {
  const aad = (id: string, index: number, last: boolean) => `blob:${id}:${index}:${last ? 'last' : 'more'}`
  return {
    async write (id, source) {
      let size = 0
      async function * sealed () {
        yield headerOf(ring.active.id)
        let pending = Buffer.alloc(0)
        let index = 0
        for await (const chunk of source) {
          size += chunk.byteLength
          pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk])
          while (pending.length >= SEGMENT_BYTES) {
            yield ring.sealBytes(pending.subarray(0, SEGMENT_BYTES), aad(id, index++, false))
            pending = pending.subarray(SEGMENT_BYTES)
          }
        }
        // Always a last segment (empty, when the bytes filled the one before): the end is sealed too.
        yield ring.sealBytes(pending, aad(id, index, true))
      }
      await blobs.write(id, sealed())
      return size
    },
    async * read (id, range) {
      const keyId = await blobKeyId(blobs, id)
      if (keyId === undefined) { yield * blobs.read(id, range); return }
      const stored = SEGMENT_BYTES + SEALING
      let index = range === undefined ? 0 : Math.floor(range.start / SEGMENT_BYTES)
      const start = range?.start ?? 0
      const end = range?.end ?? Number.POSITIVE_INFINITY
      let pending = Buffer.alloc(0)
      const emit = (segment: Buffer, last: boolean): Buffer | undefined => {
        let plain: Buffer
        try {
          plain = ring.openBytes(keyId, segment, aad(id, index, last))
        } catch (err) {
          if (err instanceof DecryptError) onFailure(err, { collection: 'attachments.chunks', id, field: `segment ${index}` })
          throw err
        }
        const at = index * SEGMENT_BYTES
        index++
        const from = Math.max(0, start - at)
        const to = Math.min(plain.length, end - at + 1)
        return to > from ? plain.subarray(from, to) : undefined
      }
      for await (const chunk of blobs.read(id, { start: HEADER + index * stored })) {
        pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk])
        // A full segment is never the last one (a last one always follows), so it opens as one of more.
        while (pending.length > stored) {
          const out = emit(pending.subarray(0, stored), false)
          pending = pending.subarray(stored)
          if (out !== undefined) yield out
          if (index * SEGMENT_BYTES > end) return
        }
      }
      if (index * SEGMENT_BYTES > end) return
      const out = emit(pending, true)
      if (out !== undefined) yield out
    },
    delete: (id) => blobs.delete(id)
  }
}
