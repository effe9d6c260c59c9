import type { Broker } from '../broker/port.js'
import type { ConversationRecord } from '../domain/types.js'
import type { Store } from '../store/port.js'
import { requireMember } from './access.js'
import { setBounded } from './bounded-map.js'

/** Where a node that removes a membership tells the others to forget it. */
export const MEMBERSHIP_CHANNEL = 'membership'

export interface MembershipCacheOptions {
  store: Store
  broker: Broker
  /** How long a positive answer is trusted without a word from the broker (the bound while it is down). */
  ttlMs: number
  maxEntries?: number
}

/**
 * The authorisation check of the send path, cached: "user U is a participant
 * of conversation C, of this type". Only positive answers are kept (a new
 * member is never refused by the cache), for ttlMs at most; a removal
 * forgets the entry on every node at once through the broker, and the TTL
 * bounds what a lost broker message can cost.
 */
export function createMembershipCache (options: MembershipCacheOptions) {
  const { store, broker, ttlMs } = options
  const max = options.maxEntries ?? 100_000
  const entries = new Map<string, { conversation: Pick<ConversationRecord, 'id' | 'type'>, expiresAt: number }>()
  const key = (conversationId: string, userId: string) => `${conversationId}:${userId}`
  let hits = 0
  let misses = 0

  const removeListener = broker.onMessage(({ channel, payload }) => {
    if (channel !== MEMBERSHIP_CHANNEL) return
    const p = payload as { conversationId?: unknown, userId?: unknown }
    if (typeof p?.conversationId === 'string' && typeof p.userId === 'string') entries.delete(key(p.conversationId, p.userId))
  })
  const ready = broker.subscribe(MEMBERSHIP_CHANNEL)

  return {
    /** The conversation (id and type) when the user is in it; NOT_FOUND or FORBIDDEN otherwise, as requireMember. */
    async check (conversationId: string, userId: string): Promise<Pick<ConversationRecord, 'id' | 'type'>> {
      const k = key(conversationId, userId)
      const hit = entries.get(k)
      if (hit !== undefined && hit.expiresAt > Date.now()) {
        hits++
        return hit.conversation
      }
      misses++
      const { conversation } = await requireMember(store, conversationId, userId)
      setBounded(entries, k, { conversation: { id: conversation.id, type: conversation.type }, expiresAt: Date.now() + ttlMs }, max)
      return { id: conversation.id, type: conversation.type }
    },

    /** A membership ended: forget it here and on every other node. */
    async forget (conversationId: string, userId: string): Promise<void> {
      entries.delete(key(conversationId, userId))
      await ready
      await broker.publish(MEMBERSHIP_CHANNEL, { conversationId, userId })
    },

    stats: () => ({ entries: entries.size, hits, misses }),
    close () { removeListener() }
  }
}

export type MembershipCache = ReturnType<typeof createMembershipCache>
