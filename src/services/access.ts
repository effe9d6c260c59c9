import { forbidden, notFound } from '../domain/errors.js'
import type { ConversationRecord, MembershipRecord } from '../domain/types.js'
import type { Store } from '../store/port.js'

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
