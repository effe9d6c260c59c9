import type { Db, IndexDescription } from 'mongodb'

/**
 * Creates each index of `collection` one call at a time. One createIndexes
 * call with several already-existing indexes crashes FerretDB 1.24's handler
 * (the connection is dropped), while single creates are idempotent on both
 * FerretDB and MongoDB, so init() can run again after every reconnect.
 */
export async function ensureIndexes (db: Db, collection: string, indexes: ReadonlyArray<IndexDescription & { name: string }>): Promise<void> {
  const coll = db.collection(collection)
  for (const { key, ...options } of indexes) {
    await coll.createIndex(key, options)
  }
}
