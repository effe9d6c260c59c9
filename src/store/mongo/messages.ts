import { MongoServerError, ObjectId, type Db, type Filter, type WithId } from 'mongodb'
import type { MessageRecord, VersionClaim } from '../../domain/types.js'
import { isClaim, type MessageKey, type MessageRepository, type MessageSearch, type TimelineEntry } from '../port.js'
import { DuplicateKeyError } from '../../domain/errors.js'
import { resolveDuplicate, translateError, type Guard } from './errors.js'
import { ensureIndexes } from './indexes.js'
import { mongoResealable } from './reseal.js'
import { oid } from './ids.js'
import { SCATTER_GATHER } from './shard-keys.js'

type MessageDoc = Omit<MessageRecord, 'id'>

export const SEARCH_WORDS_INDEX = 'search_words'
export const SEARCH_CONVERSATION_INDEX = 'search_conversation'

/** The filter, order and index of a search: the query as the adapter sends it (its tests explain it). */
export function searchQueryOf (q: MessageSearch): { filter: Filter<MessageDoc>, sort: Record<string, 1 | -1>, index: string } {
  const filter: Record<string, unknown> = { conversationId: { $in: [...q.conversationIds] }, deletedAt: { $exists: false }, ...MESSAGES_ONLY }
  const and: unknown[] = []
  if (q.wordSets.length === 1) filter.words = { $all: [...q.wordSets[0]!] }
  else if (q.wordSets.length > 1) and.push({ $or: q.wordSets.map((set) => ({ words: { $all: [...set] } })) })
  if (q.senderId !== undefined) filter.senderId = q.senderId
  if (q.before !== undefined || q.from !== undefined) filter.sentAt = { ...(q.before !== undefined && { $lt: q.before }), ...(q.from !== undefined && { $gte: q.from }) }
  if (q.hasAttachment) filter['attachments.0'] = { $exists: true }
  if (q.after !== undefined) {
    const _id = new ObjectId(q.after.id)
    and.push({ $or: [{ sentAt: { $lt: q.after.sentAt } }, { sentAt: q.after.sentAt, _id: { $lt: _id } }] })
  }
  if (and.length > 0) filter.$and = and
  return { filter: filter as Filter<MessageDoc>, sort: { sentAt: -1, _id: -1 }, index: q.wordSets.length > 0 ? SEARCH_WORDS_INDEX : SEARCH_CONVERSATION_INDEX }
}

/**
 * A version claim shares the messages collection, and so its unique seq index,
 * with the messages; its sender and clientMessageId are its own, so that
 * index never refuses it for anything but its seq.
 */
interface ClaimDoc {
  kind: 'claim'
  conversationId: string
  seq: number
  target: string
  claimedAt: Date
  senderId: ''
  clientMessageId: string
}

/** Messages only: every read but claimsSince leaves the claims out. */
const MESSAGES_ONLY = { kind: { $exists: false } } as const

// Messages stored before versions existed read as at the version of their seq.
const toRecord = ({ _id, ...rest }: WithId<MessageDoc>): MessageRecord => ({ id: _id.toHexString(), ...rest, version: rest.version ?? rest.seq })

const toDoc = (entry: TimelineEntry): { _id: ObjectId } & (MessageDoc | ClaimDoc) => {
  if (!isClaim(entry)) {
    const { id, ...doc } = entry
    return { _id: new ObjectId(id), ...doc }
  }
  const { id, conversationId, seq, target, claimedAt } = entry
  return { _id: new ObjectId(id), kind: 'claim', conversationId, seq, target, claimedAt, senderId: '', clientMessageId: `claim:${id}` }
}

/** Matches a message at a version below `version` (or stored before versions). */
const below = (version: number) => ({ $or: [{ version: { $exists: false } }, { version: { $lt: version } }] })

export async function ensureMessageIndexes (db: Db): Promise<void> {
  await ensureIndexes(db, 'messages', [
    // The only guard of seqs (there is no counter): a node whose knowledge is behind is refused here and tries the next seq.
    { key: { conversationId: 1, seq: 1 }, name: 'conversation_seq_unique', unique: true },
    // Idempotent sends: one message per (conversation, sender, clientMessageId).
    { key: { conversationId: 1, senderId: 1, clientMessageId: 1 }, name: 'conversation_sender_clientMessageId_unique', unique: true },
    // A sync reads what changed after its cursor from here (claims have no version: they are not in it).
    { key: { conversationId: 1, version: 1 }, name: 'conversation_version' },
    // A thread's page and summary.
    { key: { conversationId: 1, threadId: 1, seq: 1 }, name: 'conversation_thread' },
    // The pinned messages of a conversation (few; unpinned messages have no pinnedAt).
    { key: { conversationId: 1, pinnedAt: -1 }, name: 'conversation_pins' },
    // Search by words: equality on one word (the multikey index's bounds) gives the newest-first order,
    // so a page stops after its limit; the other words, the conversations and the operators filter.
    { key: { words: 1, sentAt: -1, _id: -1 }, name: SEARCH_WORDS_INDEX },
    // Search by operators alone (from:, before:, after:, has:): each conversation's newest first, merged.
    { key: { conversationId: 1, sentAt: -1, _id: -1 }, name: SEARCH_CONVERSATION_INDEX }
  ])
}

export function createMongoMessageRepository (db: Db, guard: Guard): MessageRepository {
  const messages = db.collection<MessageDoc>('messages')
  const claims = db.collection<ClaimDoc>('messages')

  async function findById (key: MessageKey): Promise<MessageRecord | null> {
    const _id = oid(key.id)
    if (_id === null) return null
    const doc = await guard(() => messages.findOne({ conversationId: key.conversationId, _id, ...MESSAGES_ONLY }))
    return doc === null ? null : toRecord(doc)
  }

  /** FerretDB does not name the index a duplicate broke: these probes find out. */
  const whichDuplicate = (doc: Pick<MessageDoc, 'conversationId' | 'senderId' | 'clientMessageId'>): Array<[string, () => Promise<boolean>]> => [
    ['clientMessageId', async () => (await messages.countDocuments({ conversationId: doc.conversationId, senderId: doc.senderId, clientMessageId: doc.clientMessageId }, { limit: 1 })) > 0],
    ['seq', async () => true]
  ]

  return {
    ...mongoResealable(messages, guard, toRecord, MESSAGES_ONLY),
    async insertMany (records) {
      if (records.length === 0) return { inserted: 0 }
      // The insert command itself, ordered: the server stops at the first refused document
      // and says which. Not the driver's bulk API: it wraps a lost connection in a
      // MongoBulkWriteError, which must stay a network error (UNAVAILABLE, retryable).
      const documents = records.map(toDoc)
      const reply = await guard(() => db.command({ insert: 'messages', documents, ordered: true }))
      const refused = (reply.writeErrors as Array<{ index: number, code: number, errmsg: string }> | undefined)?.[0]
      if (refused === undefined) return { inserted: records.length }
      const err = translateError(new MongoServerError({ message: refused.errmsg, errmsg: refused.errmsg, code: refused.code }))
      if (!(err instanceof DuplicateKeyError)) throw err
      const entry = records[refused.index]!
      const duplicate = await resolveDuplicate(err, isClaim(entry) ? [['seq', async () => true]] : whichDuplicate(entry))
        .catch((e: unknown) => { if (e instanceof DuplicateKeyError) return e; throw e })
      return { inserted: refused.index, duplicate }
    },

    findById,

    async findByClientMessageId (conversationId, senderId, clientMessageId) {
      const doc = await guard(() => messages.findOne({ conversationId, senderId, clientMessageId, ...MESSAGES_ONLY }))
      return doc === null ? null : toRecord(doc)
    },

    async page (conversationId, { limit, beforeSeq, afterSeq, threadId }) {
      const seq: { $lt?: number, $gt?: number } = {}
      if (beforeSeq !== undefined) seq.$lt = beforeSeq
      if (afterSeq !== undefined) seq.$gt = afterSeq
      const root = threadId === undefined ? null : oid(threadId)
      if (threadId !== undefined && root === null) return { items: [], hasMore: false }
      const filter: Filter<MessageDoc> = {
        conversationId,
        ...(Object.keys(seq).length > 0 && { seq }),
        ...(root !== null && { $or: [{ _id: root }, { threadId }] }),
        ...MESSAGES_ONLY
      }
      const forward = afterSeq !== undefined
      const docs = await guard(() => messages.find(filter).sort({ seq: forward ? 1 : -1 }).limit(limit + 1).toArray())
      const hasMore = docs.length > limit
      const items = docs.slice(0, limit).map(toRecord)
      return { items: forward ? items : items.reverse(), hasMore }
    },

    async countUnread (conversationId, afterSeq, excludeSenderId, cap) {
      return guard(() => messages.countDocuments(
        { conversationId, seq: { $gt: afterSeq }, senderId: { $ne: excludeSenderId }, deletedAt: { $exists: false }, ...MESSAGES_ONLY },
        { limit: cap }
      ))
    },

    async countUnreadMentions (conversationId, afterSeq, userId, cap) {
      return guard(() => messages.countDocuments(
        { conversationId, seq: { $gt: afterSeq }, senderId: { $ne: userId }, deletedAt: { $exists: false }, $or: [{ mentions: userId }, { mentionsAll: true }], ...MESSAGES_ONLY },
        { limit: cap }
      ))
    },

    async changedSince (conversationId, afterVersion, limit) {
      const docs = await guard(() => messages.find({ conversationId, version: { $gt: afterVersion } }).sort({ version: 1 }).limit(limit + 1).toArray())
      return { items: docs.slice(0, limit).map(toRecord), hasMore: docs.length > limit }
    },

    async lastSeq (conversationId) {
      const [last] = await guard(() => claims.find({ conversationId }, { projection: { seq: 1 } }).sort({ seq: -1 }).limit(1).toArray())
      return last?.seq ?? 0
    },

    async search (q) {
      if (q.conversationIds.length === 0) return []
      const { filter, sort } = searchQueryOf(q)
      const docs = await guard(() => messages.find(filter).sort(sort).limit(q.limit).toArray())
      return docs.map(toRecord)
    },

    async unindexed (limit) {
      const docs = await guard(() => messages.find({ words: { $exists: false }, deletedAt: { $exists: false }, ...MESSAGES_ONLY }, { comment: SCATTER_GATHER.searchBackfill }).limit(limit).toArray())
      return docs.map(toRecord)
    },

    async setWords (key, words) {
      const _id = oid(key.id)
      if (_id === null) return
      await guard(() => messages.updateOne({ conversationId: key.conversationId, _id, words: { $exists: false }, deletedAt: { $exists: false }, ...MESSAGES_ONLY }, { $set: { words: [...words] } }))
    },

    async claimsSince (conversationId, afterSeq, limit) {
      const docs = await guard(() => claims.find({ conversationId, seq: { $gt: afterSeq }, kind: 'claim' }).sort({ seq: 1 }).limit(limit).toArray())
      return docs.map(({ _id, conversationId, seq, target, claimedAt }): VersionClaim => ({ id: _id.toHexString(), conversationId, seq, target, claimedAt }))
    },

    async edit (key, content, editedAt, version, mentions = { ids: [], all: false }, words = []) {
      const _id = oid(key.id)
      if (_id === null) return null
      const $set: Partial<MessageDoc> = { content, editedAt, version }
      const $unset: Record<string, ''> = {}
      if (mentions.ids.length > 0) $set.mentions = mentions.ids
      else $unset.mentions = ''
      if (mentions.all) $set.mentionsAll = true
      else $unset.mentionsAll = ''
      $set.words = [...words]
      const doc = await guard(() => messages.findOneAndUpdate({ conversationId: key.conversationId, _id, deletedAt: { $exists: false }, ...MESSAGES_ONLY, ...below(version) }, { $set, ...(Object.keys($unset).length > 0 && { $unset }) }, { returnDocument: 'after' }))
      return doc === null ? findById(key) : toRecord(doc)
    },

    async tombstone (key, deletedAt, version) {
      const _id = oid(key.id)
      if (_id === null) return null
      const doc = await guard(() => messages.findOneAndUpdate(
        { conversationId: key.conversationId, _id, deletedAt: { $exists: false }, ...MESSAGES_ONLY, ...below(version) },
        { $set: { content: '', attachments: [], deletedAt, version }, $unset: { pinnedAt: '', pinnedBy: '', mentions: '', mentionsAll: '', words: '' } },
        { returnDocument: 'after' }
      ))
      return doc === null ? findById(key) : toRecord(doc)
    },

    async setPin (key, pin, version) {
      const _id = oid(key.id)
      if (_id === null) return null
      const update = pin === null ? { $set: { version }, $unset: { pinnedAt: '' as const, pinnedBy: '' as const } } : { $set: { version, pinnedAt: pin.at, pinnedBy: pin.by } }
      const doc = await guard(() => messages.findOneAndUpdate({ conversationId: key.conversationId, _id, deletedAt: { $exists: false }, ...MESSAGES_ONLY, ...below(version) }, update, { returnDocument: 'after' }))
      return doc === null ? findById(key) : toRecord(doc)
    },

    async pinned (conversationId, limit) {
      const docs = await guard(() => messages.find({ conversationId, pinnedAt: { $exists: true }, ...MESSAGES_ONLY }).sort({ pinnedAt: -1, seq: -1 }).limit(limit).toArray())
      return docs.map(toRecord)
    },

    async threadSummary (conversationId, rootId) {
      const live = { conversationId, threadId: rootId, deletedAt: { $exists: false }, ...MESSAGES_ONLY }
      const [replyCount, [last], senders] = await Promise.all([
        guard(() => messages.countDocuments(live)),
        guard(() => messages.find(live, { projection: { seq: 1, sentAt: 1 } }).sort({ seq: -1 }).limit(1).toArray()),
        guard(() => messages.distinct('senderId', live))
      ])
      return {
        replyCount,
        ...(last !== undefined && { lastReplyAt: last.sentAt, lastReplySeq: last.seq }),
        participantIds: (senders as string[]).sort()
      }
    },

    async setThread (key, thread, version) {
      const _id = oid(key.id)
      if (_id === null) return null
      const doc = await guard(() => messages.findOneAndUpdate({ conversationId: key.conversationId, _id, ...MESSAGES_ONLY, ...below(version) }, { $set: { thread, version } }, { returnDocument: 'after' }))
      return doc === null ? findById(key) : toRecord(doc)
    },

    async updateQuotes (conversationId, quotedId, content) {
      await guard(() => messages.updateMany({ conversationId, 'replyTo.id': quotedId, ...MESSAGES_ONLY }, { $set: { 'replyTo.content': content } }))
    },

    async touch (key, version) {
      const _id = oid(key.id)
      if (_id === null) return null
      const doc = await guard(() => messages.findOneAndUpdate({ conversationId: key.conversationId, _id, ...MESSAGES_ONLY, ...below(version) }, { $set: { version } }, { returnDocument: 'after' }))
      return doc === null ? findById(key) : toRecord(doc)
    }
  }
}
