import { DuplicateKeyError } from '../../domain/errors.js'

/** A unique index over one derived key, as a memory adapter's stand-in for a database index. */
export class UniqueIndex<T> {
  private readonly ids = new Map<string, string>()

  constructor (readonly field: string, private readonly keyOf: (doc: T) => string) {}

  /** Throws DuplicateKeyError when another document already holds the key. */
  check (doc: T, id: string): void {
    const holder = this.ids.get(this.keyOf(doc))
    if (holder !== undefined && holder !== id) throw new DuplicateKeyError(this.field)
  }

  add (doc: T, id: string): void {
    this.ids.set(this.keyOf(doc), id)
  }

  remove (doc: T): void {
    this.ids.delete(this.keyOf(doc))
  }

  get (key: string): string | undefined {
    return this.ids.get(key)
  }
}

/** Copies a record so callers never hold the store's own object (as with a real database). */
export const copy = <T>(value: T): T => structuredClone(value)
