import type { Revocations } from './port.js'

/** sessionId -> when its revocation may be forgotten (epoch ms); several nodes in one process may share one. */
export type RevocationTable = Map<string, number>

export interface MemoryRevocationsOptions {
  table?: RevocationTable
  now?: () => number
}

export function createMemoryRevocations (options: MemoryRevocationsOptions = {}): Revocations {
  const table: RevocationTable = options.table ?? new Map()
  const now = options.now ?? Date.now
  /** Forgets what has expired, oldest first (revocations are added in time order, mostly). */
  const prune = (t: number) => {
    for (const [id, until] of table) {
      if (until > t) break
      table.delete(id)
    }
  }
  return {
    kind: 'memory',
    async revoke (sessionId, ttlMs) {
      const t = now()
      prune(t)
      table.delete(sessionId) // re-inserted last: the table stays in expiry order
      table.set(sessionId, t + ttlMs)
    },
    async isRevoked (sessionId) {
      const until = table.get(sessionId)
      return until !== undefined && until > now()
    }
  }
}
