import { MongoServerError, ObjectId, type Db, type Filter, type WithId } from 'mongodb'
import type { MessageRecord } from '../../domain/types.js'
import type { MessageRepository } from '../port.js'
import { DuplicateKeyError } from '../../domain/errors.js'
import { resolveDuplicate, translateError, type Guard } from './errors.js'
import { ensureIndexes } from './indexes.js'
import { byId, oid } from './ids.js'

type MessageDoc = Omit<MessageRecord, 'id'>

const toRecord = ({ _id, ...rest }: WithId<MessageDoc>): MessageRecord => ({ id: _id.toHexString(), ...rest })

export async function ensureMessageIndexes (db: Db): Promise<void> {
  await ensureIndexes(db, 'messages', [
    // The only guard of seqs (there is no counter): a node whose knowledge is behind is refused here and tries the next seq.
    { key: { conversationId: 1, seq: 1 }, name: 'conversation_seq_unique', unique: true },
    // Idempotent sends: one message per (conversation, sender, clientMessageId).
    { key: { conversationId: 1, senderId: 1, clientMessageId: 1 }, name: 'conversation_sender_clientMessageId_unique', unique: true }
  ])
}

export function createMongoMessageRepository (db: Db, guard: Guard): MessageRepository {
  const messages = db.collection<MessageDoc>('messages')

  const findById = byId(messages, guard, toRecord)

  /** FerretDB does not name the index a duplicate broke: these probes find out. */
  const whichDuplicate = (doc: Pick<MessageDoc, 'conversationId' | 'senderId' | 'clientMessageId'>): Array<[string, () => Promise<boolean>]> => [
    ['clientMessageId', async () => (await messages.countDocuments({ conversationId: doc.conversationId, senderId: doc.senderId, clientMessageId: doc.clientMessageId }, { limit: 1 })) > 0],
    ['seq', async () => true]
  ]

  return {
    async insertMany (records) {
      if (records.length === 0) return { inserted: 0 }
      // The insert command itself, ordered: the server stops at the first refused document
      // and says which. Not the driver's bulk API: it wraps a lost connection in a
      // MongoBulkWriteError, which must stay a network error (UNAVAILABLE, retryable).
      const documents = records.map(({ id, ...doc }) => ({ _id: new ObjectId(id), ...doc }))
      const reply = await guard(() => db.command({ insert: 'messages', documents, ordered: true }))
      const refused = (reply.writeErrors as Array<{ index: number, code: number, errmsg: string }> | undefined)?.[0]
      if (refused === undefined) return { inserted: records.length }
      const err = translateError(new MongoServerError({ message: refused.errmsg, errmsg: refused.errmsg, code: refused.code }))
      if (!(err instanceof DuplicateKeyError)) throw err
      const duplicate = await resolveDuplicate(err, whichDuplicate(records[refused.index]!))
        .catch((e: unknown) => { if (e instanceof DuplicateKeyError) return e; throw e })
      return { inserted: refused.index, duplicate }
    },

    findById,

    async findByClientMessageId (conversationId, senderId, clientMessageId) {
      const doc = await guard(() => messages.findOne({ conversationId, senderId, clientMessageId }))
      return doc === null ? null : toRecord(doc)
    },

    async page (conversationId, { limit, beforeSeq, afterSeq }) {
      const seq: { $lt?: number, $gt?: number } = {}
      if (beforeSeq !== undefined) seq.$lt = beforeSeq
      if (afterSeq !== undefined) seq.$gt = afterSeq
      const filter: Filter<MessageDoc> = { conversationId, ...(Object.keys(seq).length > 0 && { seq }) }
      const forward = afterSeq !== undefined
      const docs = await guard(() => messages.find(filter).sort({ seq: forward ? 1 : -1 }).limit(limit + 1).toArray())
      const hasMore = docs.length > limit
      const items = docs.slice(0, limit).map(toRecord)
      return { items: forward ? items : items.reverse(), hasMore }
    },

    async countUnread (conversationId, afterSeq, excludeSenderId, cap) {
      return guard(() => messages.countDocuments(
        { conversationId, seq: { $gt: afterSeq }, senderId: { $ne: excludeSenderId }, deletedAt: { $exists: false } },
        { limit: cap }
      ))
    },

    async edit (id, content, editedAt) {
      const _id = oid(id)
      if (_id === null) return null
      const doc = await guard(() => messages.findOneAndUpdate({ _id, deletedAt: { $exists: false } }, { $set: { content, editedAt } }, { returnDocument: 'after' }))
      return doc === null ? findById(id) : toRecord(doc)
    },

    async tombstone (id, deletedAt) {
      const _id = oid(id)
      if (_id === null) return null
      const doc = await guard(() => messages.findOneAndUpdate(
        { _id, deletedAt: { $exists: false } },
        { $set: { content: '', attachments: [], deletedAt } },
        { returnDocument: 'after' }
      ))
      return doc === null ? findById(id) : toRecord(doc)
    }
  }
}
