import { ObjectId, type Db, type WithId } from 'mongodb'
import type { UserRecord } from '../../domain/types.js'
import type { UserRepository } from '../port.js'
import { resolveDuplicate, type Guard } from './errors.js'
import { ensureIndexes } from './indexes.js'
import { mongoResealable } from './reseal.js'
import { byId, oid } from './ids.js'

type UserDoc = Omit<UserRecord, 'id'>

const toRecord = ({ _id, ...rest }: WithId<UserDoc>): UserRecord => ({ id: _id.toHexString(), ...rest })


const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

export async function ensureUserIndexes (db: Db): Promise<void> {
  await ensureIndexes(db, 'users', [
    { key: { usernameLower: 1 }, name: 'usernameLower_unique', unique: true },
    { key: { emailLower: 1 }, name: 'emailLower_unique', unique: true }
  ])
}

export function createMongoUserRepository (db: Db, guard: Guard): UserRepository {
  const users = db.collection<UserDoc>('users')

  return {
    ...mongoResealable(users, guard, toRecord),
    async create (input) {
      const now = new Date()
      const doc: UserDoc = {
        username: input.username,
        usernameLower: input.username.toLowerCase(),
        email: input.email,
        emailLower: input.emailLower ?? input.email.toLowerCase(),
        ...(input.displayName !== undefined && { displayName: input.displayName }),
        passwordHash: input.passwordHash,
        kind: input.kind ?? 'user',
        createdAt: now,
        lastSeen: now
      }
      const _id = new ObjectId()
      try {
        await guard(() => users.insertOne({ _id, ...doc }))
      } catch (err) {
        const exists = (filter: Partial<UserDoc>) => async () => (await users.countDocuments(filter, { limit: 1 })) > 0
        await resolveDuplicate(err, [
          ['username', exists({ usernameLower: doc.usernameLower })],
          ['email', exists({ emailLower: doc.emailLower })]
        ])
      }
      return toRecord({ _id, ...doc })
    },

    findById: byId(users, guard, toRecord),

    async findByIds (ids) {
      const oids = ids.map(oid).filter((o): o is ObjectId => o !== null)
      if (oids.length === 0) return []
      const docs = await guard(() => users.find({ _id: { $in: oids } }).toArray())
      return docs.map(toRecord)
    },

    async findByLogin (loginLower) {
      const doc = await guard(() => users.findOne({ $or: [{ usernameLower: loginLower }, { emailLower: loginLower }] }))
      return doc === null ? null : toRecord(doc)
    },

    async searchByUsernamePrefix (prefixLower, limit) {
      const docs = await guard(() => users
        .find({ usernameLower: { $regex: `^${escapeRegex(prefixLower)}` } })
        .sort({ usernameLower: 1 })
        .limit(limit)
        .toArray())
      return docs.map(toRecord)
    },

    async update (id, patch) {
      const _id = oid(id)
      if (_id === null) return null
      const $set: Partial<UserDoc> = {}
      const $unset: Record<string, ''> = {}
      for (const key of ['displayName', 'avatar'] as const) {
        const value = patch[key]
        if (value === null) $unset[key] = ''
        else if (value !== undefined) $set[key] = value
      }
      const update = {
        ...(Object.keys($set).length > 0 && { $set }),
        ...(Object.keys($unset).length > 0 && { $unset })
      }
      if (Object.keys(update).length === 0) return this.findById(id)
      const doc = await guard(() => users.findOneAndUpdate({ _id }, update, { returnDocument: 'after' }))
      return doc === null ? null : toRecord(doc)
    },

    async touchLastSeen (id, at) {
      const _id = oid(id)
      if (_id === null) return
      await guard(() => users.updateOne({ _id }, { $max: { lastSeen: at } }))
    }
  }
}
