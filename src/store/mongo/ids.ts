import { ObjectId, type Collection, type Document, type WithId } from 'mongodb'
import type { Guard } from './errors.js'
import { isId } from '../../domain/ids.js'

/** The ObjectId for an id string, or null when it is not one (such ids match no document). */
export const oid = (id: string): ObjectId | null => (isId(id) ? new ObjectId(id) : null)

/** `findOne` by id, mapped to a record; null for a malformed or unknown id. */
export function byId<D extends Document, R> (collection: Collection<D>, guard: Guard, toRecord: (doc: WithId<D>) => R) {
  return async (id: string): Promise<R | null> => {
    const _id = oid(id)
    if (_id === null) return null
    const doc = await guard(() => collection.findOne({ _id } as never))
    return doc === null ? null : toRecord(doc as WithId<D>)
  }
}
