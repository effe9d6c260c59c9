import { createHash } from 'node:crypto'
import sharp from 'sharp'
import { forbidden, notFound, payloadTooLarge, validationError } from '../domain/errors.js'
import { cleanFileName, SNIFF_BYTES, sniffType, THUMBNAIL_SIZE, THUMBNAIL_TYPES, type AttachmentLinks, type AttachmentView, type LinkVariant } from '../domain/attachments.js'
import { blobOf, isUploaded, thumbnailBlobOf, type Attachment, type LinkAttachment, type UploadedAttachment, type UploadRecord } from '../domain/types.js'
import { newId } from '../store/ids.js'
import type { Store } from '../store/port.js'
import { enforceLimit } from '../limits/enforce.js'
import type { Limiter } from '../limits/port.js'
import { requireMember } from './access.js'

export interface AttachmentServiceDeps {
  store: Store
  links: AttachmentLinks
  /** ATTACHMENT_MAX_BYTES: one upload's bytes at most. */
  maxBytes: number
  /** ATTACHMENT_QUOTA_BYTES: what one user's uploads may hold together. */
  quotaBytes: number
  /** ATTACHMENT_ORPHAN_TTL_MS: an upload no message took by then is removed. */
  orphanTtlMs: number
  /** An upload still streaming in after this long was cut off (its node stopped): removed. */
  uploadGraceMs: number
  /** Uploads into one conversation (absent: unlimited). */
  conversationLimiter?: Limiter
  now?: () => Date
}

/** An upload as it arrives: the file part of a multipart body. */
export interface IncomingFile {
  filename?: string
  mimetype?: string
  stream: AsyncIterable<Uint8Array>
  /** True when the parser cut the file off at its own limit (the stream then ends early, without an error). */
  truncated?: () => boolean
}


/** An image this many pixels or more is not decoded for a thumbnail (sharp's own guard against decompression bombs is 268 M). */
const MAX_THUMBNAIL_INPUT_PIXELS = 100_000_000

/** A claim older than this with no message stored is the sender's node stopping in between: the sweep settles it from the message, if any. */
const CLAIM_GRACE_MS = 10 * 60_000

/** Counts, hashes and keeps the first bytes of what passes through; refuses it past `max` bytes. */
function meter (source: AsyncIterable<Uint8Array>, max: number, tooLarge: () => Error) {
  const hash = createHash('sha256')
  const head: Buffer[] = []
  let headBytes = 0
  const state = {
    size: 0,
    head: () => Buffer.concat(head),
    sha256: () => hash.digest('hex'),
    async * stream () {
      for await (const chunk of source) {
        state.size += chunk.byteLength
        if (state.size > max) throw tooLarge()
        hash.update(chunk)
        if (headBytes < SNIFF_BYTES) {
          const part = Buffer.from(chunk.subarray(0, SNIFF_BYTES - headBytes))
          head.push(part)
          headBytes += part.length
        }
        yield chunk
      }
    }
  }
  return state
}

/** Width, height (as shown: EXIF orientation applied) and a WebP thumbnail; none when the image does not decode. */
async function thumbnailOf (bytes: Buffer): Promise<{ width: number, height: number, thumbnail: Buffer } | undefined> {
  try {
    const image = sharp(bytes, { limitInputPixels: MAX_THUMBNAIL_INPUT_PIXELS, failOn: 'error' })
    const meta = await image.metadata()
    const thumbnail = await image.autoOrient().resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toBuffer()
    return { width: meta.autoOrient.width, height: meta.autoOrient.height, thumbnail }
  } catch {
    return undefined
  }
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of source) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** What an upload answers: its description with signed links. */
export type UploadView = AttachmentView & { id: string, conversationId: string, name: string, type: string, size: number, sha256: string }

export const uploadedOf = (r: UploadRecord): UploadedAttachment => ({
  id: r.id,
  type: r.type,
  name: r.name,
  size: r.size,
  sha256: r.sha256,
  ...(r.width !== undefined && { width: r.width }),
  ...(r.height !== undefined && { height: r.height }),
  ...(r.thumbnail === true && { thumbnail: true })
})

export function createAttachmentService (deps: AttachmentServiceDeps) {
  const { store, links } = deps
  const now = deps.now ?? (() => new Date())

  /** Removes uploads marked `deleting`: bytes first, then the record, so a rerun finishes any it started. */
  async function purge (records: readonly UploadRecord[]): Promise<number> {
    for (const r of records) {
      await store.blobs.delete(blobOf(r))
      await store.blobs.delete(thumbnailBlobOf(r))
      await store.attachments.remove(r.id)
    }
    return records.length
  }

  return {
    /**
     * POST /conversations/:id/attachments: the bytes stream into the store as
     * they arrive (counted, hashed, never whole in memory), then their type is
     * found from the bytes, and an image gets its thumbnail. Over the size or
     * the uploader's quota: 413, and nothing of it is left.
     */
    async upload (userId: string, conversationId: string, file: IncomingFile): Promise<UploadView> {
      await requireMember(store, conversationId, userId)
      if (deps.conversationLimiter !== undefined) await enforceLimit(deps.conversationLimiter, conversationId)
      const used = await store.attachments.usage(userId)
      const left = deps.quotaBytes - used
      if (left <= 0) throw payloadTooLarge(`your uploads hold ${used} bytes, the quota (ATTACHMENT_QUOTA_BYTES) is ${deps.quotaBytes}`)
      const max = Math.min(deps.maxBytes, left)
      const id = newId()
      const name = cleanFileName(file.filename)
      await store.attachments.insert({ id, conversationId, uploaderId: userId, name, type: 'application/octet-stream', size: 0, sha256: '', state: 'uploading', createdAt: now() })
      const metered = meter(file.stream, max, () => payloadTooLarge(max === deps.maxBytes
        ? `a file may have at most ${deps.maxBytes} bytes (ATTACHMENT_MAX_BYTES)`
        : `this file would take your uploads over the quota of ${deps.quotaBytes} bytes (ATTACHMENT_QUOTA_BYTES)`))
      try {
        const size = await store.blobs.write(id, (async function * () {
          yield * metered.stream()
          // Cut off by the parser at its limit: an error before the write completes, so nothing is kept.
          if (file.truncated?.() === true) throw payloadTooLarge(`a file may have at most ${deps.maxBytes} bytes (ATTACHMENT_MAX_BYTES)`)
        })())
        const type = await sniffType(metered.head(), file.mimetype)
        let image: Awaited<ReturnType<typeof thumbnailOf>>
        if (THUMBNAIL_TYPES.has(type)) {
          image = await thumbnailOf(await collect(store.blobs.read(id)))
          if (image !== undefined) await store.blobs.write(thumbnailBlobOf({ id }), [image.thumbnail])
        }
        const found = { type, size, sha256: metered.sha256(), ...(image !== undefined && { width: image.width, height: image.height, thumbnail: true }) }
        if (!await store.attachments.complete(id, found)) throw notFound('upload')
        return { ...links.view({ id, name, ...found }), id, conversationId, name, type, size, sha256: found.sha256 }
      } catch (err) {
        // Nothing of it is kept: a failed write removed its own bytes; the bytes of a later step, any
        // thumbnail and the record go now (bytes first). If this fails too, the sweep removes it as an upload cut off.
        await store.blobs.delete(id).catch(() => {})
        await store.blobs.delete(thumbnailBlobOf({ id })).catch(() => {})
        await store.attachments.remove(id).catch(() => {})
        throw err
      }
    },

    /**
     * The attachments of a send: links as given; uploads by id, each by the
     * sender into this conversation, stored, and not taken by another
     * message (VALIDATION_ERROR on `attachments.<n>.id` otherwise), claimed
     * for this send before its message is stored.
     */
    async resolve (senderId: string, conversationId: string, given: ReadonlyArray<LinkAttachment | { id: string }>, clientMessageId: string): Promise<Attachment[]> {
      const ids = given.flatMap((a) => ('id' in a ? [a.id] : []))
      if (ids.length === 0) return given as LinkAttachment[]
      const records = new Map((await store.attachments.findByIds(ids)).map((r) => [r.id, r]))
      const seen = new Set<string>()
      given.forEach((a, i) => {
        if (!('id' in a)) return
        const r = records.get(a.id)
        const field = `attachments.${i}.id`
        if (seen.has(a.id)) throw validationError('the same upload twice', { field })
        seen.add(a.id)
        if (r === undefined || r.conversationId !== conversationId || r.uploaderId !== senderId) throw validationError('no upload of yours to this conversation has this id', { field })
        if (r.state !== 'stored') throw validationError('this upload is not stored (still uploading, or removed)', { field })
        if (r.claim !== undefined && r.claim.clientMessageId !== clientMessageId) throw validationError('this upload is attached to another message', { field })
      })
      const held = new Set(await store.attachments.claim(ids, clientMessageId, now()))
      const lost = given.findIndex((a) => 'id' in a && !held.has(a.id))
      if (lost >= 0) throw validationError('this upload was taken by another message', { field: `attachments.${lost}.id` })
      return given.map((a) => ('id' in a ? uploadedOf(records.get(a.id)!) : a))
    },

    /** After the message is stored: its uploads point to it (so its deletion finds them). */
    async settle (attachments: readonly Attachment[], messageId: string): Promise<void> {
      const ids = attachments.filter(isUploaded).map((a) => a.id)
      if (ids.length > 0) await store.attachments.settle(ids, messageId)
    },

    /** After a message's deletion (and again on a rerun of it): its uploads' bytes go. */
    async removeForMessage (messageId: string): Promise<void> {
      await store.attachments.markDeletingForMessage(messageId)
      const records = (await store.attachments.deleting(1000)).filter((r) => r.messageId === messageId)
      await purge(records)
    },

    /**
     * What GET /attachments/:id[/thumbnail] serves, and to whom: with a
     * signature, whoever holds the link (403 when it is wrong or expired);
     * without, the bearer's user, a participant of its conversation (or its
     * uploader, before a message carries it). 404 for an upload that is not
     * (or no longer) stored, or has no thumbnail.
     */
    async open (id: string, variant: LinkVariant, by: { signature: { expires?: string, signature?: string } } | { userId: string }): Promise<{ record: UploadRecord, size: number, type: string, read: (range?: { start: number, end: number }) => AsyncIterable<Uint8Array> | Iterable<Uint8Array> }> {
      if ('signature' in by) {
        const check = links.check(id, variant, by.signature.expires, by.signature.signature)
        if (check !== 'ok') throw forbidden(check === 'expired' ? 'this link has expired; read the message again for a new one' : 'this link is not valid')
      }
      const record = await store.attachments.findById(id)
      if (record === null || record.state !== 'stored') throw notFound('attachment')
      if ('userId' in by) {
        await requireMember(store, record.conversationId, by.userId)
        if (record.messageId === undefined && record.uploaderId !== by.userId) throw notFound('attachment')
      }
      if (variant === 'thumbnail') {
        if (record.thumbnail !== true) throw notFound('thumbnail')
        const bytes = await collect(store.blobs.read(thumbnailBlobOf(record)))
        return { record, size: bytes.length, type: 'image/webp', read: (range) => [range === undefined ? bytes : bytes.subarray(range.start, range.end + 1)] }
      }
      return { record, size: record.size, type: record.type, read: (range) => store.blobs.read(blobOf(record), range) }
    },

    /**
     * One sweep, on the node that wins this window (the others skip it):
     * uploads no message took within ATTACHMENT_ORPHAN_TTL_MS and uploads cut
     * off are marked, claims left by a node that stopped are settled from
     * their message (or marked when it has none), and the marked are purged.
     */
    async sweep (window: number): Promise<{ swept: boolean, removed: number }> {
      if (!await store.attachments.claimSweep(window)) return { swept: false, removed: 0 }
      const at = now().getTime()
      await store.attachments.markAbandoned({ storedBefore: new Date(at - deps.orphanTtlMs), uploadingBefore: new Date(at - deps.uploadGraceMs) })
      for (const r of await store.attachments.unsettled(new Date(at - CLAIM_GRACE_MS), 1000)) {
        const message = await store.messages.findByClientMessageId(r.conversationId, r.uploaderId, r.claim!.clientMessageId)
        const carried = message !== null && message.deletedAt === undefined && message.attachments.some((a) => isUploaded(a) && a.id === r.id)
        if (carried) await store.attachments.settle([r.id], message.id)
        else await store.attachments.markDeleting(r.id)
      }
      let removed = 0
      for (let batch = await store.attachments.deleting(100); batch.length > 0; batch = await store.attachments.deleting(100)) {
        removed += await purge(batch)
        if (batch.length < 100) break
      }
      return { swept: true, removed }
    }
  }
}

export type AttachmentService = ReturnType<typeof createAttachmentService>
