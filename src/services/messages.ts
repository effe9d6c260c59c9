import { randomUUID } from 'node:crypto'
import { conflict, forbidden, notFound, validationError } from '../domain/errors.js'
import { policy, toMessageView, type MessageView } from '../domain/conversations.js'
import { channels } from '../domain/channels.js'
import { validateMessageContent, type MessageLimits } from '../domain/messages.js'
import type { Attachment, ContentType, MessageRecord } from '../domain/types.js'
import type { Store } from '../store/port.js'
import type { Trace } from '../domain/events.js'
import { requireMember } from './access.js'
import type { Publish } from './publisher.js'
import type { Sender } from './senders.js'
import { lastMessageOf, type SendPipeline, type SendResult } from './send-pipeline.js'

export type { SendResult } from './send-pipeline.js'

export type MessageSource = 'rest' | 'ws' | 'webhook'

export interface SendInput {
  conversationId: string
  content?: string
  contentType?: ContentType
  attachments?: Attachment[]
  clientMessageId?: string
  source: MessageSource
  /** The websocket connection that sent it: it gets message_sent, not new_message. */
  originConnectionId?: string
  /** Carried in the broker envelope and logged with the message id. */
  trace?: Trace
}

export interface MessageServiceDeps {
  store: Store
  pipeline: SendPipeline
  publish: Publish
  limits: MessageLimits
  /** Called after each new message is stored and published (metrics, logs). */
  onSent?: (message: MessageView, source: MessageSource, trace: Trace | undefined) => void
  now?: () => Date
}

export function createMessageService (deps: MessageServiceDeps) {
  const { store, pipeline, publish } = deps
  const now = deps.now ?? (() => new Date())

  /** Loads a message of this conversation; 404 for a message of another one. */
  async function messageIn (conversationId: string, messageId: string): Promise<MessageRecord> {
    const message = await store.messages.findById(messageId)
    if (message === null || message.conversationId !== conversationId) throw notFound('message')
    return message
  }

  return {
    /**
     * The one path for a new message, whoever sends it (REST, websocket,
     * webhook): validate, authorise and limit (the sender's rules),
     * deduplicate, then the pipeline stores it with the next seq and publishes it.
     */
    async send (sender: Sender, input: SendInput): Promise<SendResult> {
      const contentType = input.contentType ?? 'text'
      const content = input.content ?? ''
      const attachments = input.attachments ?? []
      validateMessageContent(contentType, content, attachments, deps.limits)

      // The place in the conversation's queue is taken now, before any wait, so this
      // node stores (and publishes) a conversation's sends in the order they arrived,
      // and one socket's sends in the order it sent them, while their checks run side by side.
      const slot = pipeline.reserve(input.conversationId)
      try {
        const conversation = await sender.authorise(input.conversationId)
        const first = input.clientMessageId === undefined ? undefined : pipeline.recentSend(input.conversationId, sender.userId, input.clientMessageId)
        if (first !== undefined) {
          slot.cancel()
          return await pipeline.answerResend(first)
        }
        await sender.limit(conversation)
      } catch (err) {
        slot.cancel()
        throw err
      }
      const result = await slot.fill({
        message: {
          conversationId: input.conversationId,
          senderId: sender.userId,
          content,
          contentType,
          attachments,
          clientMessageId: input.clientMessageId ?? `srv-${randomUUID()}`
        },
        live: {
          ...(input.originConnectionId !== undefined && { skipConnection: input.originConnectionId }),
          ...(input.trace !== undefined && { trace: input.trace })
        }
      })
      if (result.created) deps.onSent?.(result.message, input.source, input.trace)
      return result
    },

    /** A page of history, sorted by seq ascending (see MessageRepository.page for the bounds). */
    async history (userId: string, conversationId: string, query: { limit: number, beforeSeq?: number, afterSeq?: number }) {
      if (query.beforeSeq !== undefined && query.afterSeq !== undefined && query.afterSeq >= query.beforeSeq) {
        throw validationError('afterSeq must be below beforeSeq', { field: 'afterSeq' })
      }
      await requireMember(store, conversationId, userId)
      const [page, members] = await Promise.all([
        store.messages.page(conversationId, query),
        store.memberships.listByConversation(conversationId)
      ])
      return { items: page.items.map((m) => toMessageView(m, members)), hasMore: page.hasMore }
    },

    async edit (userId: string, conversationId: string, messageId: string, content: string): Promise<MessageView> {
      await requireMember(store, conversationId, userId)
      const message = await messageIn(conversationId, messageId)
      if (!policy.canEditMessage(message, userId)) throw forbidden('only the sender may edit a message')
      if (message.deletedAt !== undefined) throw conflict('the message was deleted')
      validateMessageContent(message.contentType, content, message.attachments, deps.limits)
      // At the next version of the conversation's timeline (a claim), in order with its sends on this node.
      return pipeline.change(conversationId, messageId, async (version) => {
        const at = now()
        const edited = await store.messages.edit(messageId, content, at, version)
        if (edited === null || edited.deletedAt !== undefined) throw conflict('the message was deleted')
        await store.conversations.replaceLastMessage(conversationId, lastMessageOf(edited), at)
        const view = toMessageView(edited, await store.memberships.listByConversation(conversationId))
        await publish(channels.conversation(conversationId), { event: { type: 'message_updated', message: view } })
        return view
      })
    },

    /** Leaves a tombstone: seq kept, content and attachments emptied, deletedAt set. Deleting twice is harmless. */
    async remove (userId: string, conversationId: string, messageId: string): Promise<void> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      const message = await messageIn(conversationId, messageId)
      if (!policy.canDeleteMessage(conversation, message, membership)) throw forbidden('you may delete only your own messages')
      if (message.deletedAt !== undefined) return
      await pipeline.change(conversationId, messageId, async (version) => {
        const at = now()
        const gone = await store.messages.tombstone(messageId, at, version)
        if (gone === null) throw notFound('message')
        await store.conversations.replaceLastMessage(conversationId, lastMessageOf(gone), at)
        await publish(channels.conversation(conversationId), { event: { type: 'message_deleted', conversationId, messageId, seq: gone.seq, version: gone.version } })
      })
    },

    /** Relays typing to the conversation's other participants (membership is checked by the caller's hub). */
    async typing (conversationId: string, userId: string, isTyping: boolean): Promise<void> {
      await publish(channels.conversation(conversationId), { event: { type: 'typing', conversationId, userId, isTyping }, skipUser: userId })
    },

    /**
     * Moves the caller's watermark forward (never back; capped at the last
     * seq) and tells the other participants with a receipt.
     */
    async acknowledge (userId: string, conversationId: string, kind: 'delivered' | 'read', seq: number): Promise<{ seq: number, at: Date }> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      // Capped at the last message stored: the conversation's lastSeq, or a later one this
      // node has stored or fanned out (lastSeq is raised just after the fan-out).
      const capped = Math.min(seq, Math.max(conversation.lastSeq, pipeline.knownSeq(conversationId)))
      const current = kind === 'read' ? membership.readSeq : membership.deliveredSeq
      const at = now()
      if (capped <= current) return { seq: current, at }
      await store.memberships.advance(conversationId, userId, kind, capped, at)
      await publish(channels.conversation(conversationId), { event: { type: 'receipt', conversationId, userId, kind, seq: capped, at: at.toISOString() }, skipUser: userId })
      return { seq: capped, at }
    }
  }
}

export type MessageService = ReturnType<typeof createMessageService>
