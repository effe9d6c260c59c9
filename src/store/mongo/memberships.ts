import type { Db } from 'mongodb'
import { DuplicateKeyError } from '../../domain/errors.js'
import type { MembershipRecord } from '../../domain/types.js'
import type { MembershipRepository } from '../port.js'
import type { Guard } from './errors.js'
import { ensureIndexes } from './indexes.js'
import { SCATTER_GATHER } from './shard-keys.js'

export async function ensureMembershipIndexes (db: Db): Promise<void> {
  await ensureIndexes(db, 'memberships', [
    { key: { conversationId: 1, userId: 1 }, name: 'membership_unique', unique: true },
    { key: { userId: 1 }, name: 'user' }
  ])
}

// roleEpoch: the adapter's own count of a member's conditional role changes (see setRole).
const PROJECTION = { projection: { _id: 0, roleEpoch: 0 } } as const

interface RoleClaim {
  /** `<conversationId>:<userId>:<joinedAt ms>:<epoch>`: one conditional role change of the membership (a re-added member starts anew), taken once. */
  _id: string
}

export function createMongoMembershipRepository (db: Db, guard: Guard): MembershipRepository {
  const memberships = db.collection<MembershipRecord & { roleEpoch?: number }>('memberships')
  const roleClaims = db.collection<RoleClaim>('membershipRoleClaims')

  return {
    async addMany (input) {
      if (input.length === 0) return []
      const conversationId = input[0]!.conversationId
      const existing = new Set((await guard(() => memberships
        .find({ conversationId, userId: { $in: input.map((m) => m.userId) } }, { projection: { userId: 1 } })
        .toArray())).map((m) => m.userId))
      const added: string[] = []
      // One insert each: the unique index settles races with a concurrent add, whatever the server.
      for (const m of input) {
        if (existing.has(m.userId)) continue
        try {
          await guard(() => memberships.insertOne({ ...m }))
          added.push(m.userId)
          existing.add(m.userId)
        } catch (err) {
          if (!(err instanceof DuplicateKeyError)) throw err
        }
      }
      return added
    },

    async find (conversationId, userId) {
      return guard(() => memberships.findOne({ conversationId, userId }, PROJECTION))
    },

    async listByConversation (conversationId) {
      return guard(() => memberships.find({ conversationId }, PROJECTION).sort({ joinedAt: 1, userId: 1 }).toArray())
    },

    async conversationIdsOf (userId) {
      const docs = await guard(() => memberships.find({ userId }, { projection: { _id: 0, conversationId: 1 }, comment: SCATTER_GATHER.conversationsOfUser }).toArray())
      return docs.map((m) => m.conversationId)
    },

    async listForUser (userId, conversationIds) {
      if (conversationIds.length === 0) return []
      return guard(() => memberships.find({ userId, conversationId: { $in: [...conversationIds] } }, PROJECTION).toArray())
    },

    async remove (conversationId, userId) {
      const result = await guard(() => memberships.deleteOne({ conversationId, userId }))
      return result.deletedCount === 1
    },

    async setRole (conversationId, userId, role, from) {
      if (from === undefined) {
        const result = await guard(() => memberships.updateOne({ conversationId, userId }, { $set: { role } }))
        return result.matchedCount === 1
      }
      // Conditional: a filtered updateOne alone is not atomic on FerretDB (two concurrent ones can
      // both match), so the change first takes the member's next epoch by inserting its claim
      // (a unique _id, atomic everywhere); of two changes racing from the same role, one takes it.
      const m = await guard(() => memberships.findOne({ conversationId, userId }))
      if (m === null || m.role !== from) return false
      const epoch = (m.roleEpoch ?? 0) + 1
      try {
        await guard(() => roleClaims.insertOne({ _id: `${conversationId}:${userId}:${m.joinedAt.getTime()}:${epoch}` }))
      } catch (err) {
        if (err instanceof DuplicateKeyError) return false
        throw err
      }
      const result = await guard(() => memberships.updateOne({ conversationId, userId, role: from }, { $set: { role, roleEpoch: epoch } }))
      return result.matchedCount === 1
    },

    async advance (conversationId, userId, kind, seq, at) {
      // The filter keeps each watermark from moving back, and its time from moving without it.
      await guard(() => memberships.updateOne({ conversationId, userId, deliveredSeq: { $lt: seq } }, { $set: { deliveredSeq: seq, deliveredAt: at } }))
      if (kind === 'read') {
        await guard(() => memberships.updateOne({ conversationId, userId, readSeq: { $lt: seq } }, { $set: { readSeq: seq, readAt: at } }))
      }
    }
  }
}
