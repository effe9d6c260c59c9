import { ObjectId, type Db, type WithId } from 'mongodb'
import { DuplicateKeyError } from '../../domain/errors.js'
import type { RefreshTokenRecord } from '../../domain/types.js'
import type { RefreshTokenRepository } from '../port.js'
import { resolveDuplicate, type Guard } from './errors.js'
import { ensureIndexes } from './indexes.js'

type TokenDoc = Omit<RefreshTokenRecord, 'id'>

const toRecord = ({ _id, ...rest }: WithId<TokenDoc>): RefreshTokenRecord => ({ id: _id.toHexString(), ...rest })

export async function ensureRefreshTokenIndexes (db: Db): Promise<void> {
  await ensureIndexes(db, 'refreshTokens', [
    { key: { tokenHash: 1 }, name: 'tokenHash_unique', unique: true },
    // One child per token: two racing rotations of the same token cannot both succeed,
    // whatever the server's update atomicity.
    { key: { parentId: 1 }, name: 'parentId_unique', unique: true },
    { key: { familyId: 1 }, name: 'familyId' }
  ])
}

export function createMongoRefreshTokenRepository (db: Db, guard: Guard): RefreshTokenRepository {
  const tokens = db.collection<TokenDoc>('refreshTokens')
  // One document per revoked family, inserted: FerretDB applies updates as read-modify-write, so a
  // revocation written into the tokens alone could be lost to a concurrent rotation of one of them.
  const revokedFamilies = db.collection<{ _id: string, revokedAt: Date }>('revokedRefreshTokenFamilies')

  return {
    async insert ({ id, ...doc }) {
      const _id = new ObjectId(id)
      try {
        await guard(() => tokens.insertOne({ _id, ...doc }))
      } catch (err) {
        await resolveDuplicate(err, [
          ['parentId', async () => (await tokens.countDocuments({ parentId: doc.parentId }, { limit: 1 })) > 0],
          ['tokenHash', async () => true]
        ])
      }
      return toRecord({ _id, ...doc })
    },

    async findByHash (tokenHash) {
      const doc = await guard(() => tokens.findOne({ tokenHash }))
      return doc === null ? null : toRecord(doc)
    },

    async markRotated (id, at) {
      const result = await guard(() => tokens.updateOne(
        { _id: new ObjectId(id), rotatedAt: { $exists: false }, revokedAt: { $exists: false } },
        { $set: { rotatedAt: at } }
      ))
      return result.modifiedCount === 1
    },

    async revokeFamily (familyId, at) {
      try {
        await guard(() => revokedFamilies.insertOne({ _id: familyId, revokedAt: at }))
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err // revoked before: fine
      }
      await guard(() => tokens.updateMany({ familyId, revokedAt: { $exists: false } }, { $set: { revokedAt: at } }))
    },

    async isFamilyRevoked (familyId) {
      return (await guard(() => revokedFamilies.findOne({ _id: familyId }))) !== null
    }
  }
}
