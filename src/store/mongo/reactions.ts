import type { Db } from 'mongodb'
import { DuplicateKeyError } from '../../domain/errors.js'
import type { ReactionRecord } from '../../domain/types.js'
import type { ReactionRepository } from '../port.js'
import type { Guard } from './errors.js'
import { ensureIndexes } from './indexes.js'

/** _id: `<messageId>:<userId>:<emoji>`, so adding one is an insert the unique _id settles (FerretDB's updates are not atomic; its inserts under a unique key are). */
type ReactionDoc = ReactionRecord & { _id: string }

export async function ensureReactionIndexes (db: Db): Promise<void> {
  await ensureIndexes(db, 'reactions', [{ key: { messageId: 1, createdAt: 1 }, name: 'message' }])
}

const idOf = (messageId: string, userId: string, emoji: string) => `${messageId}:${userId}:${emoji}`

export function createMongoReactionRepository (db: Db, guard: Guard): ReactionRepository {
  const reactions = db.collection<ReactionDoc>('reactions')
  return {
    async add (reaction) {
      try {
        await guard(() => reactions.insertOne({ _id: idOf(reaction.messageId, reaction.userId, reaction.emoji), ...reaction }))
        return true
      } catch (err) {
        if (err instanceof DuplicateKeyError) return false
        throw err
      }
    },
    async remove (messageId, userId, emoji) {
      const result = await guard(() => reactions.deleteOne({ _id: idOf(messageId, userId, emoji) }))
      return result.deletedCount === 1
    },
    async forMessages (messageIds) {
      if (messageIds.length === 0) return []
      const docs = await guard(() => reactions.find({ messageId: { $in: [...messageIds] } }).sort({ createdAt: 1, _id: 1 }).toArray())
      return docs.map(({ _id, ...r }) => r)
    }
  }
}
