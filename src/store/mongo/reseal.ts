import { ObjectId, type Collection, type Document, type WithId } from 'mongodb'
import type { Resealable } from '../port.js'
import type { Guard } from './errors.js'
import { oid } from './ids.js'
import { SCATTER_GATHER } from './shard-keys.js'

/** scan and reseal over one collection (see Resealable), with a filter every document must also match (messages: no claims). */
export function mongoResealable<D extends Document, R> (collection: Collection<D>, guard: Guard, toRecord: (doc: WithId<D>) => R, only: Document = {}): Resealable<R> {
  return {
    async scan (afterId, limit) {
      const after = afterId === undefined ? {} : { _id: { $gt: new ObjectId(afterId) } }
      const docs = await guard(() => collection.find({ ...after, ...only } as never, { comment: SCATTER_GATHER.keyRotation }).sort({ _id: 1 }).limit(limit).toArray())
      return docs.map((d) => toRecord(d as WithId<D>))
    },
    async reseal (id, { field, value }, set) {
      const _id = oid(id)
      if (_id === null) return false
      // A guard on a field the record lacks (undefined) holds while the document has none.
      const held = value === undefined ? { $exists: false } : value
      const result = await guard(() => collection.updateOne({ _id, [field]: held, ...only } as never, { $set: set } as never, { comment: SCATTER_GATHER.keyRotation }))
      return result.matchedCount === 1
    }
  }
}
