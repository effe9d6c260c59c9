import { MongoClient, type Db } from 'mongodb'
import type { Store } from '../port.js'
import { createGuard } from './errors.js'
import { createMongoUserRepository, ensureUserIndexes } from './users.js'
import { createMongoRefreshTokenRepository, ensureRefreshTokenIndexes } from './refresh-tokens.js'
import { createMongoConversationRepository, ensureConversationIndexes } from './conversations.js'
import { createMongoMembershipRepository, ensureMembershipIndexes } from './memberships.js'
import { createMongoMessageRepository, ensureMessageIndexes } from './messages.js'
import { createMongoWebhookRepository, ensureWebhookIndexes } from './webhooks.js'
import { createMongoReactionRepository, ensureReactionIndexes } from './reactions.js'
import { createMongoBotRepository, createMongoEventEndpointRepository, createMongoOutboxRepository, ensureOutgoingIndexes } from './outgoing.js'
import { createMongoAttachmentRepository, createMongoBlobRepository, ensureAttachmentIndexes } from './attachments.js'
import { auditShardKeys } from './shard-keys.js'

export interface MongoStoreOptions {
  url: string
  /** Used when the URL names no database. */
  dbName: string
  poolSize: number
  /** How long an operation waits for a reachable server (and a connection for its first answer) before failing as unavailable. */
  serverSelectionTimeoutMs: number
  /** Write concern (`w`): 'majority' by default, so an acknowledged message survives the loss of the primary. */
  writeConcern?: 'majority' | number
  /** Read concern level: 'majority' by default, so nothing read can be rolled back. */
  readConcern?: 'majority' | 'local'
  /** A directory where every command on a sharded collection that lacks its shard key is written (src/store/mongo/shard-keys.ts). */
  shardKeyAudit?: string
}

/** The driver's write and read concerns: 'majority' writes unless told otherwise; the read concern given (default 'majority'). */
const concerns = (o: MongoStoreOptions) => ({ w: o.writeConcern ?? 'majority', readConcernLevel: o.readConcern ?? 'majority' })

/**
 * The production store on the official driver. The driver connects lazily and
 * reconnects by itself, so a database that is down at start or goes away later
 * makes operations fail with DependencyUnavailableError instead of killing the process.
 */
export function createMongoStore (options: MongoStoreOptions): Store & { db: Db } {
  const client = new MongoClient(options.url, {
    maxPoolSize: options.poolSize,
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMs,
    connectTimeoutMS: options.serverSelectionTimeoutMs,
    appName: 'chat-backend',
    ...concerns(options),
    ...(options.shardKeyAudit !== undefined && { monitorCommands: true })
  })
  if (options.shardKeyAudit !== undefined) auditShardKeys(client, options.shardKeyAudit)
  // A database named in the URL wins over the configured default.
  const urlDb = new URL(options.url.replace(/^mongodb(\+srv)?:/, 'http:')).pathname.slice(1)
  const db = client.db(urlDb !== '' ? decodeURIComponent(urlDb) : options.dbName)
  const recoverHandlers = new Set<() => void>()
  const guard = createGuard(client, () => { for (const handler of recoverHandlers) handler() })
  const keys = db.collection<{ _id: string, usedAt: Date, retiredAt?: Date }>('encryptionKeys')

  return {
    kind: 'mongo',
    db,
    async init () {
      await guard(async () => {
        await ensureUserIndexes(db)
        await ensureRefreshTokenIndexes(db)
        await ensureConversationIndexes(db)
        await ensureMembershipIndexes(db)
        await ensureMessageIndexes(db)
        await ensureWebhookIndexes(db)
        await ensureReactionIndexes(db)
        await ensureAttachmentIndexes(db)
        await ensureOutgoingIndexes(db)
      })
    },
    onRecover (handler) {
      recoverHandlers.add(handler)
      return () => recoverHandlers.delete(handler)
    },
    async ping () {
      await guard(async () => { await db.command({ ping: 1 }) })
    },
    async close () {
      await client.close()
    },
    users: createMongoUserRepository(db, guard),
    refreshTokens: createMongoRefreshTokenRepository(db, guard),
    conversations: createMongoConversationRepository(db, guard),
    memberships: createMongoMembershipRepository(db, guard),
    messages: createMongoMessageRepository(db, guard),
    reactions: createMongoReactionRepository(db, guard),
    webhooks: createMongoWebhookRepository(db, guard),
    attachments: createMongoAttachmentRepository(db, guard),
    blobs: createMongoBlobRepository(db, guard),
    eventEndpoints: createMongoEventEndpointRepository(db, guard),
    outbox: createMongoOutboxRepository(db, guard),
    bots: createMongoBotRepository(db, guard),
    encryptionKeys: {
      async markUsed (keyId) {
        await guard(() => keys.updateOne({ _id: keyId }, { $set: { usedAt: new Date() }, $unset: { retiredAt: '' } }, { upsert: true }))
      },
      async retire (keyId) {
        await guard(() => keys.updateOne({ _id: keyId }, { $set: { retiredAt: new Date() } }))
      },
      async inUse () {
        return (await guard(() => keys.find({ retiredAt: { $exists: false } }).sort({ _id: 1 }).toArray())).map((k) => k._id)
      }
    }
  }
}
