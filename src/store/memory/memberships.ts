import type { MembershipRecord } from '../../domain/types.js'
import type { MembershipRepository } from '../port.js'
import { copy } from './unique-index.js'

/** Oldest member first; ties by user id. */
export const bySeniority = (a: MembershipRecord, b: MembershipRecord) =>
  a.joinedAt.getTime() - b.joinedAt.getTime() || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)

export function createMemoryMembershipRepository (): MembershipRepository {
  /** conversationId -> userId -> membership: the (conversationId, userId) pair is unique by construction. */
  const byConversation = new Map<string, Map<string, MembershipRecord>>()
  const members = (conversationId: string) => {
    let m = byConversation.get(conversationId)
    if (m === undefined) byConversation.set(conversationId, (m = new Map()))
    return m
  }

  return {
    async addMany (memberships) {
      const added: string[] = []
      for (const m of memberships) {
        const inConversation = members(m.conversationId)
        if (inConversation.has(m.userId)) continue
        inConversation.set(m.userId, copy(m))
        added.push(m.userId)
      }
      return added
    },

    async find (conversationId, userId) {
      const m = byConversation.get(conversationId)?.get(userId)
      return m === undefined ? null : copy(m)
    },

    async listByConversation (conversationId) {
      return [...(byConversation.get(conversationId)?.values() ?? [])].sort(bySeniority).map(copy)
    },

    async conversationIdsOf (userId) {
      return [...byConversation].filter(([, m]) => m.has(userId)).map(([id]) => id)
    },

    async listForUser (userId, conversationIds) {
      return conversationIds.flatMap((id) => {
        const m = byConversation.get(id)?.get(userId)
        return m === undefined ? [] : [copy(m)]
      })
    },

    async remove (conversationId, userId) {
      return byConversation.get(conversationId)?.delete(userId) ?? false
    },

    async setRole (conversationId, userId, role, from) {
      const m = byConversation.get(conversationId)?.get(userId)
      if (m === undefined || (from !== undefined && m.role !== from)) return false
      m.role = role
      return true
    },

    async advance (conversationId, userId, kind, seq, at) {
      const m = byConversation.get(conversationId)?.get(userId)
      if (m === undefined) return
      if (m.deliveredSeq < seq) { m.deliveredSeq = seq; m.deliveredAt = at }
      if (kind === 'read' && m.readSeq < seq) { m.readSeq = seq; m.readAt = at }
    }
  }
}
