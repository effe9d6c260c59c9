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
  // Checked, not assumed: right after a restart FerretDB 1.24 has been seen to
  // answer createIndex with ok and keep nothing. The caller retries on a throw.
  const present = new Set((await coll.indexes()).map((ix) => ix.name))
  const missing = indexes.filter((ix) => !present.has(ix.name)).map((ix) => ix.name)
  if (missing.length > 0) throw new Error(`${collection}: indexes missing after createIndex: ${missing.join(', ')}`)
}
