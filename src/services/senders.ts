import { AppError, forbidden, notFound } from '../domain/errors.js'
import type { ConversationRecord, WebhookRecord } from '../domain/types.js'
import { enforceLimit } from '../limits/enforce.js'
import type { Limiter } from '../limits/port.js'
import type { Store } from '../store/port.js'
import { requireMember } from './access.js'
import type { MembershipCache } from './membership-cache.js'

type Target = Pick<ConversationRecord, 'id' | 'type'>

/**
 * Who sends a message, and what they may do: the send path asks the sender,
 * never a flag, whether it may post into a conversation and whether it is
 * within its limits.
 */
export interface Sender {
  /** The user id the message is stored under. */
  readonly userId: string
  /** The conversation (id and type) when this sender may post into it; NOT_FOUND or FORBIDDEN otherwise. */
  authorise (conversationId: string): Promise<Target>
  /** Counts the send against this sender's limits; RATE_LIMITED when over. Not called for a resend. */
  limit (conversation: Target): Promise<void>
}

export interface SenderDeps {
  store: Store
  /** The cached participant check (requireMember when absent). */
  members?: MembershipCache
  /** null: no limits (RATE_LIMITS=off). */
  limiters: { sendDirect: Limiter, sendGroup: Limiter, webhook: Limiter, webhookConversation: Limiter } | null
}

export function createSenders (deps: SenderDeps) {
  const { store, members, limiters } = deps
  return {
    /** A signed-in user: a participant of the conversation, within their send limit for its type. */
    user (userId: string): Sender {
      return {
        userId,
        authorise: async (conversationId) => members !== undefined
          ? await members.check(conversationId, userId)
          : (await requireMember(store, conversationId, userId)).conversation,
        limit: async (conversation) => {
          if (limiters === null) return
          await enforceLimit(conversation.type === 'group' ? limiters.sendGroup : limiters.sendDirect, `${conversation.type}:${userId}`)
        }
      }
    },

    /**
     * An incoming webhook's bot: its own conversation only, while the user who
     * created it is still a participant (a webhook acts for its creator: it
     * stops the moment they leave or are removed), within the webhook's limit
     * and the conversation's.
     */
    webhook (webhook: WebhookRecord): Sender {
      return {
        userId: webhook.botUserId,
        authorise: async (conversationId) => {
          if (conversationId !== webhook.conversationId) throw notFound('conversation')
          const { conversation } = await requireMember(store, conversationId, webhook.createdBy).catch((err: unknown) => {
            if (err instanceof AppError && err.code === 'FORBIDDEN') throw forbidden('this webhook\'s creator is no longer a participant: the webhook is inactive')
            throw err
          })
          return conversation
        },
        // Its own budget, and the conversation's for all its webhooks together: more webhooks are not more messages.
        limit: async () => {
          if (limiters === null) return
          await enforceLimit(limiters.webhook, webhook.id)
          await enforceLimit(limiters.webhookConversation, webhook.conversationId)
        }
      }
    }
  }
}

export type Senders = ReturnType<typeof createSenders>
