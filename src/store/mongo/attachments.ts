import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { GridFSBucket, type Db, type Filter } from 'mongodb'
import { DuplicateKeyError } from '../../domain/errors.js'
import type { UploadRecord } from '../../domain/types.js'
import type { AttachmentRepository, BlobRepository } from '../port.js'
import type { Guard } from './errors.js'
import { ensureIndexes } from './indexes.js'
import { mongoResealable } from './reseal.js'
import { oid } from './ids.js'

type UploadDoc = Omit<UploadRecord, 'id'>

/** The GridFS bucket of upload bytes: `attachments.files` and `attachments.chunks`. */
const BUCKET = 'attachments'

export async function ensureAttachmentIndexes (db: Db): Promise<void> {
  await ensureIndexes(db, 'attachments', [
    { key: { messageId: 1 }, name: 'message' },
    { key: { state: 1, createdAt: 1 }, name: 'state_created' },
    { key: { uploaderId: 1 }, name: 'uploader' }
  ])
  // The indexes the driver's GridFS streams would otherwise create on their first write, named as it names them.
  await ensureIndexes(db, `${BUCKET}.files`, [{ key: { filename: 1, uploadDate: 1 }, name: 'filename_1_uploadDate_1' }])
  await ensureIndexes(db, `${BUCKET}.chunks`, [{ key: { files_id: 1, n: 1 }, name: 'files_id_1_n_1', unique: true }])
}

const toRecord = ({ _id, ...rest }: UploadDoc & { _id: { toHexString: () => string } }): UploadRecord => ({ id: _id.toHexString(), ...rest })

export function createMongoAttachmentRepository (db: Db, guard: Guard): AttachmentRepository {
  const uploads = db.collection<UploadDoc>('attachments')
  const sweeps = db.collection<{ _id: number, at: Date }>('attachmentSweeps')
  const ids = (list: readonly string[]) => list.flatMap((id) => { const o = oid(id); return o === null ? [] : [o] })
  const find = async (filter: Filter<UploadDoc>, limit = 0) => (await guard(() => uploads.find(filter).limit(limit).toArray())).map(toRecord)
  return {
    ...mongoResealable(uploads, guard, toRecord),
    async insert ({ id, ...doc }) {
      await guard(() => uploads.insertOne({ _id: oid(id)!, ...doc } as never))
    },
    async findById (id) {
      const _id = oid(id)
      if (_id === null) return null
      const doc = await guard(() => uploads.findOne({ _id }))
      return doc === null ? null : toRecord(doc)
    },
    async findByIds (list) {
      return find({ _id: { $in: ids(list) } })
    },
    async complete (id, { width, height, thumbnail, ...found }) {
      const set = { ...found, ...(width !== undefined && { width }), ...(height !== undefined && { height }), ...(thumbnail === true && { thumbnail }), state: 'stored' as const }
      const result = await guard(() => uploads.updateOne({ _id: oid(id)!, state: 'uploading' }, { $set: set }))
      return result.matchedCount === 1
    },
    async claim (list, clientMessageId, at) {
      for (const _id of ids(list)) {
        await guard(() => uploads.updateOne({ _id, state: 'stored', claim: { $exists: false } }, { $set: { claim: { clientMessageId, at } } }))
      }
      // Read back: an upload is held when its claim is this send's, whoever wrote it.
      const held = await find({ _id: { $in: ids(list) }, state: 'stored', 'claim.clientMessageId': clientMessageId })
      return held.map((r) => r.id)
    },
    async settle (list, messageId) {
      await guard(() => uploads.updateMany({ _id: { $in: ids(list) }, state: 'stored' }, { $set: { messageId } }))
    },
    async markDeletingForMessage (messageId) {
      await guard(() => uploads.updateMany({ messageId }, { $set: { state: 'deleting' } }))
    },
    async markDeleting (id) {
      await guard(() => uploads.updateOne({ _id: oid(id)!, messageId: { $exists: false } }, { $set: { state: 'deleting' } }))
    },
    async markAbandoned ({ storedBefore, uploadingBefore }) {
      const stored = await guard(() => uploads.updateMany({ state: 'stored', claim: { $exists: false }, createdAt: { $lt: storedBefore } }, { $set: { state: 'deleting' } }))
      const uploading = await guard(() => uploads.updateMany({ state: 'uploading', createdAt: { $lt: uploadingBefore } }, { $set: { state: 'deleting' } }))
      return stored.modifiedCount + uploading.modifiedCount
    },
    async unsettled (claimedBefore, limit) {
      return find({ state: 'stored', claim: { $exists: true }, messageId: { $exists: false }, 'claim.at': { $lt: claimedBefore } }, limit)
    },
    async deleting (limit) {
      return find({ state: 'deleting' }, limit)
    },
    async remove (id) {
      await guard(() => uploads.deleteOne({ _id: oid(id)! }))
    },
    async usage (userId) {
      const [row] = await guard(() => uploads.aggregate<{ total: number }>([
        { $match: { uploaderId: userId, state: { $ne: 'deleting' } } },
        { $group: { _id: null, total: { $sum: '$size' } } }
      ]).toArray())
      return row?.total ?? 0
    },
    async claimSweep (window) {
      try {
        await guard(() => sweeps.insertOne({ _id: window, at: new Date() }))
      } catch (err) {
        if (err instanceof DuplicateKeyError) return false
        throw err
      }
      await guard(() => sweeps.deleteMany({ _id: { $lt: window - 10 } }))
      return true
    }
  }
}

/** Upload bytes in GridFS, through the driver's own bucket streams (chunks of 255 KiB: never a whole file in memory). */
export function createMongoBlobRepository (db: Db, guard: Guard): BlobRepository {
  const bucket = new GridFSBucket(db, { bucketName: BUCKET })
  const files = db.collection<{ _id: string, length: number }>(`${BUCKET}.files`)
  const chunks = db.collection<{ files_id: string }>(`${BUCKET}.chunks`)
  const remove = async (id: string) => {
    // The file document first: without it no read finds the chunks, which go next (again on a rerun).
    await guard(() => files.deleteOne({ _id: id }))
    await guard(() => chunks.deleteMany({ files_id: id }))
  }
  return {
    async write (id, source) {
      const upload = bucket.openUploadStreamWithId(id as never, id)
      try {
        await guard(() => pipeline(Readable.from(source), upload))
        return upload.length
      } catch (err) {
        await remove(id).catch(() => {})
        throw err
      }
    },
    read (id, range) {
      if (range === undefined) return bucket.openDownloadStream(id as never)
      if (range.end !== undefined) return bucket.openDownloadStream(id as never, { start: range.start, end: range.end + 1 })
      // To the end: the driver refuses a start without an end (its default end, 0, is below it), so the length is looked up.
      return (async function * () {
        const file = await guard(() => files.findOne({ _id: id }))
        if (file === null) throw new Error(`no bytes stored under ${id}`)
        yield * bucket.openDownloadStream(id as never, { start: range.start, end: file.length })
      })()
    },
    delete: remove
  }
}
