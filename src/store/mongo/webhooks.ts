import { ObjectId, type Db, type WithId } from 'mongodb'
import type { WebhookRecord } from '../../domain/types.js'
import type { WebhookRepository } from '../port.js'
import type { Guard } from './errors.js'
import { ensureIndexes } from './indexes.js'
import { byId, oid } from './ids.js'

type WebhookDoc = Omit<WebhookRecord, 'id'>

const toRecord = ({ _id, ...rest }: WithId<WebhookDoc>): WebhookRecord => ({ id: _id.toHexString(), ...rest })

export async function ensureWebhookIndexes (db: Db): Promise<void> {
  await ensureIndexes(db, 'webhooks', [
    { key: { conversationId: 1, createdAt: 1 }, name: 'conversation' },
    { key: { createdBy: 1 }, name: 'creator' }
  ])
}

export function createMongoWebhookRepository (db: Db, guard: Guard): WebhookRepository {
  const webhooks = db.collection<WebhookDoc>('webhooks')
  return {
    async insert ({ id, ...doc }) {
      const _id = new ObjectId(id)
      await guard(() => webhooks.insertOne({ _id, ...doc }))
      return toRecord({ _id, ...doc })
    },
    findById: byId(webhooks, guard, toRecord),
    async listByConversation (conversationId) {
      const docs = await guard(() => webhooks.find({ conversationId }).sort({ createdAt: 1, _id: 1 }).toArray())
      return docs.map(toRecord)
    },
    async countCreatedBy (userId) {
      return await guard(() => webhooks.countDocuments({ createdBy: userId }))
    },
    async remove (id) {
      const _id = oid(id)
      if (_id === null) return false
      const result = await guard(() => webhooks.deleteOne({ _id }))
      return result.deletedCount === 1
    }
  }
}
