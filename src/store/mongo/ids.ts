import { ObjectId } from 'mongodb'

/** The ObjectId for an id string, or null when it is not one (such ids match no document). */
export const oid = (id: string): ObjectId | null => (/^[0-9a-f]{24}$/i.test(id) ? new ObjectId(id) : null)
