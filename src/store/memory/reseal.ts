import { isDeepStrictEqual } from 'node:util'
import { copy } from './unique-index.js'

/** A field of a record by its dotted path (`replyTo.content`). */
export function pathOf (record: object, path: string): unknown {
  return path.split('.').reduce<unknown>((at, key) => (at === null || typeof at !== 'object' ? undefined : (at as Record<string, unknown>)[key]), record)
}

function setPath (record: object, path: string, value: unknown): void {
  const keys = path.split('.')
  let at = record as Record<string, unknown>
  for (const key of keys.slice(0, -1)) {
    if (at[key] === null || typeof at[key] !== 'object') return
    at = at[key] as Record<string, unknown>
  }
  at[keys.at(-1)!] = copy(value)
}

/** Records of `map` by id ascending after `afterId`, at most `limit`, as copies. */
export function scanIn<R extends { id: string }> (map: ReadonlyMap<string, R>, afterId: string | undefined, limit: number, include: (r: R) => boolean = () => true): R[] {
  return [...map.values()].filter((r) => (afterId === undefined || r.id > afterId) && include(r)).sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, limit).map(copy)
}

/**
 * Sets `set` (dotted paths) on the record in place (the memory adapters'
 * other indexes hold the same object) while `guard.field` still holds
 * `guard.value`; `check` may refuse the new state first (a unique index).
 */
export function resealIn<R extends object> (map: ReadonlyMap<string, R>, id: string, guard: { field: string, value: unknown }, set: Record<string, unknown>, check?: (before: R, after: R) => void): boolean {
  const record = map.get(id)
  if (record === undefined || !isDeepStrictEqual(pathOf(record, guard.field), guard.value)) return false
  const after = copy(record)
  for (const [path, value] of Object.entries(set)) setPath(after, path, value)
  check?.(record, after)
  for (const [path, value] of Object.entries(set)) setPath(record, path, value)
  return true
}
