import type { RefreshTokenRecord } from '../../domain/types.js'
import type { RefreshTokenRepository } from '../port.js'
import { UniqueIndex, copy } from './unique-index.js'

export function createMemoryRefreshTokenRepository (): RefreshTokenRepository {
  const tokens = new Map<string, RefreshTokenRecord>()
  const byHash = new UniqueIndex<RefreshTokenRecord>('tokenHash', (t) => t.tokenHash)
  const byParent = new UniqueIndex<RefreshTokenRecord>('parentId', (t) => t.parentId)
  const revokedFamilies = new Set<string>()

  return {
    async insert (input) {
      const token: RefreshTokenRecord = copy(input)
      byHash.check(token, token.id)
      byParent.check(token, token.id)
      byHash.add(token, token.id)
      byParent.add(token, token.id)
      tokens.set(token.id, token)
      return copy(token)
    },

    async findByHash (tokenHash) {
      const id = byHash.get(tokenHash)
      const token = id === undefined ? undefined : tokens.get(id)
      return token === undefined ? null : copy(token)
    },

    async markRotated (id, at) {
      const token = tokens.get(id)
      if (token === undefined || token.rotatedAt !== undefined || token.revokedAt !== undefined) return false
      token.rotatedAt = at
      return true
    },

    async revokeFamily (familyId, at) {
      revokedFamilies.add(familyId)
      for (const token of tokens.values()) {
        if (token.familyId === familyId && token.revokedAt === undefined) token.revokedAt = at
      }
    },

    async isFamilyRevoked (familyId) {
      return revokedFamilies.has(familyId)
    }
  }
}
