import type { PresenceRegistry } from './port.js'

/** userId -> connectionId -> expiry (epoch ms); several registries in one process may share one (tests' nodes). */
export type PresenceTable = Map<string, Map<string, number>>

export interface MemoryPresenceOptions {
  table?: PresenceTable
  now?: () => number
}

export function createMemoryPresence (options: MemoryPresenceOptions = {}): PresenceRegistry {
  const table: PresenceTable = options.table ?? new Map()
  const now = options.now ?? Date.now

  /** The user's connections that have not expired (expired ones are dropped). */
  const live = (userId: string): Map<string, number> | undefined => {
    const conns = table.get(userId)
    if (conns === undefined) return undefined
    const t = now()
    for (const [id, expiresAt] of conns) if (expiresAt <= t) conns.delete(id)
    return conns
  }
  const set = (userId: string, connectionId: string, ttlMs: number) => {
    const conns = table.get(userId) ?? new Map<string, number>()
    conns.set(connectionId, now() + ttlMs)
    table.set(userId, conns)
  }

  return {
    kind: 'memory',
    async connect (userId, connectionId, ttlMs) {
      const firstConnection = (live(userId)?.size ?? 0) === 0
      set(userId, connectionId, ttlMs)
      return { firstConnection }
    },
    async refresh (userId, connectionId, ttlMs) {
      set(userId, connectionId, ttlMs)
    },
    async disconnect (userId, connectionId) {
      const conns = live(userId)
      conns?.delete(connectionId)
      if (conns !== undefined && conns.size === 0) table.delete(userId)
      return { lastConnection: conns === undefined || conns.size === 0 }
    },
    async online (userIds) {
      return new Set(userIds.filter((id) => (live(id)?.size ?? 0) > 0))
    }
  }
}
