import { ObjectId } from 'bson'

/** A new id: an ObjectId's hex form, the same in every adapter. */
export const newId = (): string => new ObjectId().toHexString()
