import type { Store } from './port.js'
import { createMemoryStore } from './memory/index.js'
import { createMongoStore } from './mongo/index.js'

export type { Store } from './port.js'

export interface StoreSelection {
  MONGODB_URL?: string
  MONGODB_DB: string
  MONGODB_POOL_SIZE: number
  MONGODB_TIMEOUT_MS: number
  MONGODB_WRITE_CONCERN?: string
  MONGODB_READ_CONCERN?: string
  MONGODB_SHARD_KEY_AUDIT?: string | undefined
}

/**
 * The read concern to use: as configured, or with 'auto' (the default)
 * 'majority' where the URL says the server is a replica set (replicaSet=,
 * or mongodb+srv://, which is one), 'local' on a single server.
 */
export function readConcernOf (url: string, setting: string | undefined): 'majority' | 'local' {
  if (setting === 'majority' || setting === 'local') return setting
  return url.startsWith('mongodb+srv://') || /[?&]replicaSet=/i.test(url) ? 'majority' : 'local'
}

/** The mongo adapter when MONGODB_URL is set, otherwise the embedded memory store. */
export function createStore (config: StoreSelection): Store {
  return config.MONGODB_URL === undefined
    ? createMemoryStore()
    : createMongoStore({
      url: config.MONGODB_URL,
      dbName: config.MONGODB_DB,
      poolSize: config.MONGODB_POOL_SIZE,
      serverSelectionTimeoutMs: config.MONGODB_TIMEOUT_MS,
      writeConcern: config.MONGODB_WRITE_CONCERN === undefined || config.MONGODB_WRITE_CONCERN === 'majority' ? 'majority' : Number(config.MONGODB_WRITE_CONCERN),
      readConcern: readConcernOf(config.MONGODB_URL, config.MONGODB_READ_CONCERN),
      ...(config.MONGODB_SHARD_KEY_AUDIT !== undefined && { shardKeyAudit: config.MONGODB_SHARD_KEY_AUDIT })
    })
}
