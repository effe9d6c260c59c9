import { LRUCache } from 'lru-cache'
import type { Broker } from '../broker/port.js'
import { channels } from '../domain/channels.js'
import type { ConversationRecord } from '../domain/types.js'
import type { Store } from '../store/port.js'
import { requireMember } from './access.js'
import type { Publish } from './publisher.js'

export interface MembershipCacheOptions {
  store: Store
  /** Where removals arrive from other nodes. */
  broker: Broker
  /** How removals leave for other nodes. */
  publish: Publish
  /** How long a positive answer is trusted without a word from the broker (the bound while it is down). */
  ttlMs: number
  maxEntries: number
}

type Member = Pick<ConversationRecord, 'id' | 'type'>

/**
 * The authorisation check of the send path, cached: "user U is a participant
 * of conversation C, of this type". Only positive answers are kept (a new
 * member is never refused by the cache), for ttlMs at most, the least
 * recently used forgotten first; a removal forgets the entry on every node at
 * once through the broker, and the TTL bounds what a lost broker message can cost.
 */
export function createMembershipCache (options: MembershipCacheOptions) {
  const { store, broker, publish } = options
  const entries = new LRUCache<string, Member>({ max: options.maxEntries, ttl: options.ttlMs })
  const key = (conversationId: string, userId: string) => `${conversationId}:${userId}`
  let hits = 0
  let misses = 0
  // Counts removals seen here: a store read that started before one may hold the answer
  // from before it, so its answer is not cached (it is still used, as any read in flight is).
  let removals = 0
  const drop = (k: string) => {
    removals++
    entries.delete(k)
  }

  const removeListener = broker.onMessage(({ channel, payload }) => {
    if (channel !== channels.membership) return
    const p = payload as { conversationId?: unknown, userId?: unknown }
    if (typeof p?.conversationId === 'string' && typeof p.userId === 'string') drop(key(p.conversationId, p.userId))
  })
  const ready = broker.subscribe(channels.membership)

  return {
    /** The conversation (id and type) when the user is in it; NOT_FOUND or FORBIDDEN otherwise, as requireMember. */
    async check (conversationId: string, userId: string): Promise<Member> {
      const k = key(conversationId, userId)
      const hit = entries.get(k)
      if (hit !== undefined) {
        hits++
        return hit
      }
      misses++
      const seen = removals
      const { conversation } = await requireMember(store, conversationId, userId)
      const member = { id: conversation.id, type: conversation.type }
      if (removals === seen) entries.set(k, member)
      return member
    },

    /** A membership ended: forget it here and on every other node. */
    async forget (conversationId: string, userId: string): Promise<void> {
      drop(key(conversationId, userId))
      await ready
      await publish(channels.membership, { conversationId, userId })
    },

    stats: () => ({ entries: entries.size, hits, misses }),
    close () { removeListener() }
  }
}

export type MembershipCache = ReturnType<typeof createMembershipCache>
