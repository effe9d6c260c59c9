import { ObjectId, type Db, type Filter, type WithId } from 'mongodb'
import type { ConversationRecord } from '../../domain/types.js'
import type { ConversationRepository } from '../port.js'
import { resolveDuplicate, type Guard } from './errors.js'
import { ensureIndexes } from './indexes.js'
import { mongoResealable } from './reseal.js'
import { byId, oid } from './ids.js'

type ConversationDoc = Omit<ConversationRecord, 'id'>

// Conversations stored before versions existed read as version 0.
const toRecord = ({ _id, ...rest }: WithId<ConversationDoc>): ConversationRecord => ({ id: _id.toHexString(), ...rest, version: rest.version ?? 0 })

/** Matches a conversation whose details are at a version below `version` (or were never versioned). */
const below = (version: number): Filter<ConversationDoc> => ({ $or: [{ version: { $exists: false } }, { version: { $lt: version } }] })

export async function ensureConversationIndexes (db: Db): Promise<void> {
  await ensureIndexes(db, 'conversations', [
    { key: { directKey: 1 }, name: 'directKey_unique', unique: true },
    { key: { participantIds: 1, updatedAt: -1 }, name: 'participant_activity' },
    { key: { createdBy: 1, type: 1 }, name: 'creator' }
  ])
}

export function createMongoConversationRepository (db: Db, guard: Guard): ConversationRepository {
  const conversations = db.collection<ConversationDoc>('conversations')
  const findById = byId(conversations, guard, toRecord)

  return {
    ...mongoResealable(conversations, guard, toRecord),
    async insert ({ id, ...doc }) {
      const _id = new ObjectId(id)
      try {
        await guard(() => conversations.insertOne({ _id, ...doc }))
      } catch (err) {
        await resolveDuplicate(err, [['directKey', async () => true]])
      }
      return toRecord({ _id, ...doc })
    },

    findById,

    async findByDirectKey (directKey) {
      const doc = await guard(() => conversations.findOne({ directKey }))
      return doc === null ? null : toRecord(doc)
    },

    async countGroupsCreatedBy (userId) {
      return await guard(() => conversations.countDocuments({ createdBy: userId, type: 'group' }))
    },

    async listForUser (userId, limit, after) {
      const filter: Filter<ConversationDoc> = { participantIds: userId }
      if (after !== undefined) {
        filter.$or = [
          { updatedAt: { $lt: after.updatedAt } },
          { updatedAt: after.updatedAt, _id: { $lt: new ObjectId(after.id) } }
        ]
      }
      const docs = await guard(() => conversations.find(filter).sort({ updatedAt: -1, _id: -1 }).limit(limit).toArray())
      return docs.map(toRecord)
    },

    async setLastMessage (id, lastMessage, updatedAt) {
      await guard(() => conversations.updateOne(
        { _id: new ObjectId(id), $or: [{ lastMessage: { $exists: false } }, { 'lastMessage.seq': { $lt: lastMessage.seq } }] },
        { $set: { lastMessage }, $max: { updatedAt, lastSeq: lastMessage.seq } }
      ))
    },

    async raiseLastSeq (id, seq) {
      await guard(() => conversations.updateOne({ _id: new ObjectId(id), lastSeq: { $lt: seq } }, { $max: { lastSeq: seq } }))
    },

    async replaceLastMessage (id, lastMessage, updatedAt) {
      await guard(() => conversations.updateOne(
        { _id: new ObjectId(id), 'lastMessage.id': lastMessage.id },
        { $set: { lastMessage }, $max: { updatedAt } }
      ))
    },

    async update (id, patch, updatedAt, version) {
      const _id = oid(id)
      if (_id === null) return null
      const $set: Partial<ConversationDoc> = { updatedAt, version }
      if (patch.name !== undefined) $set.name = patch.name
      if (typeof patch.avatar === 'string') $set.avatar = patch.avatar
      const doc = await guard(() => conversations.findOneAndUpdate(
        { _id, ...below(version) },
        { $set, ...(patch.avatar === null && { $unset: { avatar: '' as const } }) },
        { returnDocument: 'after' }
      ))
      return doc === null ? findById(id) : toRecord(doc)
    },

    async setParticipants (id, participantIds, updatedAt, version) {
      const _id = oid(id)
      if (_id === null) return null
      const doc = await guard(() => conversations.findOneAndUpdate({ _id, ...below(version) }, { $set: { participantIds, updatedAt, version } }, { returnDocument: 'after' }))
      return doc === null ? findById(id) : toRecord(doc)
    }
  }
}
