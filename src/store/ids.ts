import { ObjectId } from 'bson'

/** A new id: an ObjectId's hex form, the same in every adapter. */
export const newId = (): string => new ObjectId().toHexString()

export const isId = (value: string): boolean => /^[0-9a-f]{24}$/.test(value)
