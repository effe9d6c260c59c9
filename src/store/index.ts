import type { Store } from './port.js'
import { createMemoryStore } from './memory/index.js'
import { createMongoStore } from './mongo/index.js'

export type { Store } from './port.js'

export interface StoreSelection {
  MONGODB_URL?: string
  MONGODB_DB: string
  MONGODB_POOL_SIZE: number
  MONGODB_TIMEOUT_MS: number
}

/** The mongo adapter when MONGODB_URL is set, otherwise the embedded memory store. */
export function createStore (config: StoreSelection): Store {
  return config.MONGODB_URL === undefined
    ? createMemoryStore()
    : createMongoStore({ url: config.MONGODB_URL, dbName: config.MONGODB_DB, poolSize: config.MONGODB_POOL_SIZE, serverSelectionTimeoutMs: config.MONGODB_TIMEOUT_MS })
}
