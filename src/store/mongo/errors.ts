import { type MongoClient, MongoNetworkError, MongoServerSelectionError, MongoNotConnectedError, MongoTopologyClosedError, MongoServerError } from 'mongodb'
import { DependencyUnavailableError, DuplicateKeyError } from '../../domain/errors.js'

/** Each unique index's name, and the logical field the rest of the app speaks of. */
const UNIQUE_INDEX_FIELDS: Record<string, string> = {
  usernameLower_unique: 'username',
  emailLower_unique: 'email',
  tokenHash_unique: 'tokenHash',
  parentId_unique: 'parentId',
  directKey_unique: 'directKey',
  membership_unique: 'membership',
  conversation_seq_unique: 'seq',
  conversation_sender_clientMessageId_unique: 'clientMessageId'
}

/**
 * MongoDB names the index in the message (`index: name_unique dup key …`);
 * FerretDB 1.x does not, so the field is 'unknown' and the repository that
 * did the write finds out which one it was (see resolveDuplicate).
 */
function duplicateField (err: MongoServerError): string {
  const name = /index: (\w+_unique)/.exec(err.message)?.[1]
  return (name !== undefined ? UNIQUE_INDEX_FIELDS[name] : undefined) ?? 'unknown'
}

/**
 * Re-throws a DuplicateKeyError whose field is unknown with the first of
 * `candidates` whose probe finds the conflicting document.
 */
export async function resolveDuplicate (err: unknown, candidates: Array<[field: string, probe: () => Promise<boolean>]>): Promise<never> {
  if (err instanceof DuplicateKeyError && err.field === 'unknown') {
    for (const [field, probe] of candidates) {
      if (await probe()) throw new DuplicateKeyError(field)
    }
  }
  throw err
}

function isUnavailable (err: unknown): boolean {
  return err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError
}

/** Translates driver errors into the store port's errors. */
export function translateError (err: unknown): unknown {
  if (err instanceof MongoServerError && err.code === 11000) {
    return new DuplicateKeyError(duplicateField(err))
  }
  if (isUnavailable(err)) return new DependencyUnavailableError('store', err)
  return err
}

export type Guard = <T>(fn: () => Promise<T>) => Promise<T>

/**
 * Returns the wrapper every driver call of one store goes through: it connects
 * first when the client is not connected, and translates errors.
 *
 * The driver closes its topology when the first connection fails and never
 * retries it by itself ("Topology is closed"), while an explicit connect()
 * later succeeds; once connected, it rides out outages on its own. So the
 * client is connected here, lazily, and again after every failed attempt.
 */
export function createGuard (client: MongoClient, onRecovered?: () => void): Guard {
  let connecting: Promise<unknown> | undefined
  let connected = false
  /** An operation failed for want of a server: the next one that succeeds reports the recovery. */
  let lost = false
  return async (fn) => {
    try {
      if (!connected) {
        connecting ??= client.connect().then(() => { connected = true }).finally(() => { connecting = undefined })
        await connecting
      }
      const result = await fn()
      if (lost) {
        lost = false
        onRecovered?.()
      }
      return result
    } catch (err) {
      const translated = translateError(err)
      if (translated instanceof DependencyUnavailableError) lost = true
      throw translated
    }
  }
}
