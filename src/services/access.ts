import { forbidden, notFound, AppError } from '../domain/errors.js'
import type { ConversationRecord, MembershipRecord } from '../domain/types.js'
import type { Broker } from '../broker/port.js'
import type { Store } from '../store/port.js'
import type { RateLimitSetting } from '../config.js'

/**
 * The conversation and the caller's membership, or the error: 404 when the
 * conversation does not exist, 403 when the caller is not in it. Membership
 * documents are the source of truth for who is in a conversation.
 */
export async function requireMember (store: Store, conversationId: string, userId: string): Promise<{ conversation: ConversationRecord, membership: MembershipRecord }> {
  const [conversation, membership] = await Promise.all([
    store.conversations.findById(conversationId),
    store.memberships.find(conversationId, userId)
  ])
  if (conversation === null) throw notFound('conversation')
  if (membership === null) throw forbidden('you are not a participant of this conversation')
  return { conversation, membership }
}

/** Counts a hit on the broker's shared counters; RATE_LIMITED with the seconds to wait when over. */
export async function enforceLimit (broker: Broker, key: string, limit: RateLimitSetting | undefined): Promise<void> {
  if (limit === undefined) return
  const { count, resetInMs } = await broker.counters.hit(key, limit.windowMs)
  if (count > limit.max) {
    const retryAfterSeconds = Math.max(1, Math.ceil(resetInMs / 1000))
    throw new AppError('RATE_LIMITED', `rate limit exceeded: at most ${limit.max} in ${Math.round(limit.windowMs / 1000)} s; retry in ${retryAfterSeconds} s`, { retryAfterSeconds })
  }
}

/** Channels of the broker: events for a conversation's participants, and for one user's devices. */
export const channels = {
  conversation: (id: string) => `conversation:${id}`,
  user: (id: string) => `user:${id}`
}
