import { randomUUID } from 'node:crypto'
import { conflict, forbidden, notFound, validationError } from '../domain/errors.js'
import { policy, toMessageView, type MessageView } from '../domain/conversations.js'
import { channels } from '../domain/channels.js'
import { validateMessageContent, type MessageLimits } from '../domain/messages.js'
import { quoteOf, type Attachment, type AttachmentInput, type ContentType, type MembershipRecord, type MessageRecord, type Quote } from '../domain/types.js'
import type { Store } from '../store/port.js'
import type { Trace } from '../domain/events.js'
import { requireMember } from './access.js'
import { enforceLimit } from '../limits/enforce.js'
import type { Limiter } from '../limits/port.js'
import { REACTION_LIMITS, validateEmoji } from '../domain/reactions.js'
import { mentionedNames, type Mentions } from '../domain/mentions.js'
import { isManager } from '../domain/conversations.js'
import { containsPhrase, parseSearchQuery, searchWordsOf, wordsIn } from '../domain/search.js'
import type { ConversationRecord } from '../domain/types.js'
import type { Publish } from './publisher.js'
import type { AttachmentLinks } from '../domain/attachments.js'
import type { AttachmentService } from './attachments.js'
import type { Sender } from './senders.js'
import { lastMessageOf, type SendPipeline, type SendResult } from './send-pipeline.js'
import type { NewOutboxEvent } from '../domain/outgoing.js'

export type { SendResult } from './send-pipeline.js'

export type MessageSource = 'rest' | 'ws' | 'webhook'

export interface SendInput {
  conversationId: string
  content?: string
  contentType?: ContentType
  attachments?: AttachmentInput[]
  clientMessageId?: string
  /** The id of the message this one replies to (same conversation, not deleted). */
  replyTo?: string
  /** The root of the thread it is a reply in (same conversation, not deleted, not itself in a thread). */
  threadId?: string
  source: MessageSource
  /** The websocket connection that sent it: it gets message_sent, not new_message. */
  originConnectionId?: string
  /** Carried in the broker envelope and logged with the message id. */
  trace?: Trace
}

/** Where the services record outgoing events (see EventService.record). */
export interface EventRecorder { record (events: readonly NewOutboxEvent[]): Promise<void> }

export interface MessageServiceDeps {
  store: Store
  pipeline: SendPipeline
  /** Signs the links of uploaded attachments in every view. */
  links: AttachmentLinks
  /** Uploads a send carries, and what goes when its message does. */
  attachments: Pick<AttachmentService, 'resolve' | 'settle' | 'removeForMessage'>
  /** The uploads of a deleted message could not all be removed now (the sweep finishes them). */
  onAttachmentCleanupError?: (err: unknown, messageId: string) => void
  publish: Publish
  limits: MessageLimits
  /** Pinned messages one conversation may have (MAX_PINS_PER_CONVERSATION; 50 unless given). */
  maxPins?: number
  /** A user's limit on adding and removing reactions (absent: unlimited). */
  reactionLimiter?: Limiter
  /** A thread root's summary could not be updated after a reply (stored all the same; the next reply updates it). */
  onThreadError?: (err: unknown, rootId: string) => void
  /** Outgoing events: each change recorded after it is stored, before it is answered (absent: none). */
  events?: EventRecorder
  /** Called after each new message is stored and published (metrics, logs). */
  onSent?: (message: MessageView, source: MessageSource, trace: Trace | undefined) => void
  now?: () => Date
}

/** A search looks in this many of the caller's conversations at most (the most recently active). */
export const SEARCH_MAX_CONVERSATIONS = 1000

/** A search page examines this many candidates at most before it answers (with a cursor to go on from). */
export const SEARCH_MAX_SCAN = 500

/** What search keeps of a message: the words of its text or caption (a location's coordinates are not words to look for). */
const searchable = (contentType: ContentType, content: string) => (contentType === 'location' ? [] : searchWordsOf(content))

/** A search page's place: after this message (its sentAt and id), newest first. */
function encodeSearchCursor (at: { sentAt: Date, id: string }): string {
  return Buffer.from(JSON.stringify([at.sentAt.getTime(), at.id])).toString('base64url')
}

function decodeSearchCursor (cursor: string): { sentAt: Date, id: string } {
  try {
    const [t, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown]
    if (typeof t === 'number' && Number.isSafeInteger(t) && Math.abs(t) <= 8.64e15 && typeof id === 'string' && /^[0-9a-f]{24}$/.test(id)) return { sentAt: new Date(t), id }
  } catch {
    // Not base64url JSON: refused below, as any other cursor we did not give out.
  }
  throw validationError('cursor is not one this server gave out', { field: 'cursor' })
}

/** What a message change answers when a later change of the message landed before it (see changeMessage). */
const LOST = Symbol('lost to a later change')

/** How often a message change is made again after losing to later ones. */
const CHANGE_ATTEMPTS = 5

export function createMessageService (deps: MessageServiceDeps) {
  const { store, pipeline, publish } = deps
  const record = deps.events?.record ?? (async () => {})
  /** message.created, recorded again by a resend (once: by its key). */
  const created = async (result: SendResult): Promise<SendResult> => {
    await record([{ key: `message.created:${result.message.id}`, type: 'message.created', data: result.message as unknown as Record<string, unknown> }])
    return result
  }
  const now = deps.now ?? (() => new Date())
  const maxPins = deps.maxPins ?? 50

  /** Loads a message of this conversation; 404 for a message of another one. */
  async function messageIn (conversationId: string, messageId: string): Promise<MessageRecord> {
    const message = await store.messages.findById({ conversationId, id: messageId })
    if (message === null) throw notFound('message')
    return message
  }

  /** The quote of the message replied to: of this conversation and not deleted, or VALIDATION_ERROR (on replyTo). */
  async function quoted (conversationId: string, messageId: string): Promise<Quote> {
    const original = await referenced(conversationId, messageId, 'replyTo', 'message replied to')
    return { id: original.id, seq: original.seq, senderId: original.senderId, content: quoteOf(original.content) }
  }

  /** A message a send refers to (replyTo, threadId): of this conversation and not deleted; VALIDATION_ERROR on `field` otherwise. */
  async function referenced (conversationId: string, messageId: string, field: string, what: string): Promise<MessageRecord> {
    const m = await store.messages.findById({ conversationId, id: messageId })
    if (m === null || 'target' in m) throw validationError(`${field} must be a message of this conversation`, { field })
    if (m.deletedAt !== undefined) throw validationError(`the ${what} was deleted`, { field })
    return m
  }

  /**
   * Who a message's content mentions: `@username` for a participant (not the
   * sender), and `@all` in a group when the sender is an owner or admin;
   * anything else stays text.
   */
  async function mentionsIn (conversationId: string, senderId: string, content: string): Promise<Mentions> {
    const names = mentionedNames(content)
    if (names.length === 0) return { ids: [], all: false }
    // One lookup per name, side by side; the ids in the order they were named.
    const found: Array<string | undefined> = new Array(names.length)
    let all = false
    await Promise.all(names.map(async (name, i) => {
      if (name === 'all') {
        const [conversation, membership] = await Promise.all([store.conversations.findById(conversationId), store.memberships.find(conversationId, senderId)])
        all = conversation?.type === 'group' && isManager(membership?.role)
        return
      }
      const user = await store.users.findByLogin(name)
      if (user === null || user.id === senderId || user.username.toLowerCase() !== name) return
      if (await store.memberships.find(conversationId, user.id) !== null) found[i] = user.id
    }))
    return { ids: found.filter((id): id is string => id !== undefined), all }
  }

  /** A thread's root: of this conversation, not deleted, not itself in a thread; VALIDATION_ERROR (on threadId) otherwise. */
  async function threadRoot (conversationId: string, rootId: string): Promise<void> {
    const root = await referenced(conversationId, rootId, 'threadId', 'root of the thread')
    if (root.threadId !== undefined) throw validationError('threadId must be the root of a thread, not a reply in one', { field: 'threadId' })
  }

  /**
   * A change of one message at the next version of the timeline. Another
   * node's change of the same message can take a later version and land
   * first; `apply` then answers LOST (its conditional write found the message
   * past its version) and the change is made again at a newer version, so an
   * edit, a deletion, a pin or a thread summary is never dropped for a change
   * that came after it (a reaction's version move, say).
   */
  async function changeMessage<T> (conversationId: string, messageId: string, apply: (version: number) => Promise<T | typeof LOST>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const out = await pipeline.change(conversationId, messageId, apply)
      if (out !== LOST) return out
      if (attempt >= CHANGE_ATTEMPTS) throw conflict('the message kept changing meanwhile; try again')
    }
  }

  /** The root's summary, summed up again from its replies at the root's next version, and sent as message_updated. */
  async function updateThread (conversationId: string, rootId: string): Promise<void> {
    await changeMessage(conversationId, rootId, async (version) => {
      const root = await store.messages.setThread({ conversationId, id: rootId }, await store.messages.threadSummary(conversationId, rootId), version)
      if (root === null) return
      if (root.version !== version) return LOST
      const [view] = await viewsOf([root], await store.memberships.listByConversation(conversationId))
      await publish(channels.conversation(conversationId), { event: { type: 'message_updated', message: view } })
    })
  }

  /** A deleted message's uploads go; a failure is logged and left to the sweep (the deletion itself is done). */
  async function removeAttachments (messageId: string): Promise<void> {
    await deps.attachments.removeForMessage(messageId).catch((err: unknown) => deps.onAttachmentCleanupError?.(err, messageId))
  }

  /** The views of messages, with their reactions (one read for all). */
  async function viewsOf (records: readonly MessageRecord[], members: readonly MembershipRecord[]): Promise<MessageView[]> {
    const reactions = await store.reactions.forMessages(records.filter((m) => m.deletedAt === undefined).map((m) => m.id))
    return records.map((m) => toMessageView(m, members, reactions, deps.links))
  }

  /**
   * Adds or removes the caller's reaction. Idempotent: a reaction that is
   * there already (or not there) changes nothing. A change is a record of its
   * own, then the message moves to the next version of the timeline (so sync
   * brings it as message_updated), and a `reaction` frame goes to the others.
   */
  async function react (userId: string, conversationId: string, messageId: string, emoji: string, added: boolean): Promise<void> {
    validateEmoji(emoji)
    await requireMember(store, conversationId, userId)
    const message = await messageIn(conversationId, messageId)
    if (message.deletedAt !== undefined) throw conflict('the message was deleted')
    if (deps.reactionLimiter !== undefined) await enforceLimit(deps.reactionLimiter, userId)
    if (added) {
      const existing = await store.reactions.forMessages([messageId])
      if (existing.some((r) => r.userId === userId && r.emoji === emoji)) return
      // Checked before the insert: reactions racing past a bound can pass it by those in flight.
      if (!existing.some((r) => r.emoji === emoji) && new Set(existing.map((r) => r.emoji)).size >= REACTION_LIMITS.emojiPerMessage) {
        throw conflict(`a message carries at most ${REACTION_LIMITS.emojiPerMessage} distinct emoji`)
      }
      if (existing.filter((r) => r.userId === userId).length >= REACTION_LIMITS.perUserPerMessage) {
        throw conflict(`one user puts at most ${REACTION_LIMITS.perUserPerMessage} reactions on a message`)
      }
      if (!await store.reactions.add({ conversationId, messageId, userId, emoji, createdAt: now() })) return
    } else if (!await store.reactions.remove(messageId, userId, emoji)) {
      return
    }
    await pipeline.change(conversationId, messageId, async (version) => {
      const moved = await store.messages.touch({ conversationId, id: messageId }, version)
      if (moved === null) throw notFound('message')
      await publish(channels.conversation(conversationId), { event: { type: 'reaction', conversationId, messageId, emoji, userId, added, version: moved.version } })
    })
  }

  /**
   * Pins or unpins a message (idempotent). In a direct conversation either
   * participant; in a group, owners and admins. The message moves to a new
   * version and goes out as message_updated (live and in a sync).
   */
  async function setPin (userId: string, conversationId: string, messageId: string, pinned: boolean): Promise<void> {
    const { conversation, membership } = await requireMember(store, conversationId, userId)
    if (!policy.canPin(conversation, membership)) throw forbidden('in a group, only the owner and admins pin messages')
    const message = await messageIn(conversationId, messageId)
    if (message.deletedAt !== undefined) throw conflict('the message was deleted')
    if ((message.pinnedAt !== undefined) === pinned) return
    // Checked before the change: pins racing past the bound can pass it by those in flight.
    if (pinned && (await store.messages.pinned(conversationId, maxPins)).length >= maxPins) {
      throw conflict(`a conversation has at most ${maxPins} pinned messages; unpin one first`)
    }
    await changeMessage(conversationId, messageId, async (version) => {
      const changed = await store.messages.setPin({ conversationId, id: messageId }, pinned ? { by: userId, at: now() } : null, version)
      if (changed === null) throw notFound('message')
      if (changed.deletedAt !== undefined) throw conflict('the message was deleted')
      if (changed.version !== version) return LOST
      const [view] = await viewsOf([changed], await store.memberships.listByConversation(conversationId))
      await publish(channels.conversation(conversationId), { event: { type: 'message_updated', message: view } })
    })
  }

  return {
    /** PUT /pins/:messageId. */
    pin: (userId: string, conversationId: string, messageId: string) => setPin(userId, conversationId, messageId, true),

    /** DELETE /pins/:messageId. */
    unpin: (userId: string, conversationId: string, messageId: string) => setPin(userId, conversationId, messageId, false),

    /** The conversation's pinned messages, the newest pin first. */
    async pins (userId: string, conversationId: string): Promise<{ items: MessageView[] }> {
      await requireMember(store, conversationId, userId)
      const [pinned, members] = await Promise.all([store.messages.pinned(conversationId, maxPins), store.memberships.listByConversation(conversationId)])
      return { items: await viewsOf(pinned, members) }
    },

    /**
     * The one path for a new message, whoever sends it (REST, websocket,
     * webhook): validate, authorise and limit (the sender's rules),
     * deduplicate, then the pipeline stores it with the next seq and publishes it.
     */
    async send (sender: Sender, input: SendInput): Promise<SendResult> {
      const contentType = input.contentType ?? 'text'
      const content = input.content ?? ''
      const given = input.attachments ?? []
      validateMessageContent(contentType, content, given, deps.limits)
      const clientMessageId = input.clientMessageId ?? `srv-${randomUUID()}`
      const words = searchable(contentType, content)

      // The place in the conversation's queue is taken now, before any wait, so this
      // node stores (and publishes) a conversation's sends in the order they arrived,
      // and one socket's sends in the order it sent them, while their checks run side by side.
      const slot = pipeline.reserve(input.conversationId)
      let replyTo: Quote | undefined
      let mentions: Mentions = { ids: [], all: false }
      let attachments: Attachment[] = []
      try {
        const conversation = await sender.authorise(input.conversationId)
        const first = input.clientMessageId === undefined ? undefined : pipeline.recentSend(input.conversationId, sender.userId, input.clientMessageId)
        if (first !== undefined) {
          slot.cancel()
          return await created(await pipeline.answerResend(first))
        }
        await sender.limit(conversation)
        if (input.replyTo !== undefined) replyTo = await quoted(input.conversationId, input.replyTo)
        if (input.threadId !== undefined) await threadRoot(input.conversationId, input.threadId)
        mentions = await mentionsIn(input.conversationId, sender.userId, content)
        // Last: uploads are claimed for this send here, so nothing after may refuse it.
        attachments = await deps.attachments.resolve(sender.userId, input.conversationId, given, clientMessageId)
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
          clientMessageId,
          ...(replyTo !== undefined && { replyTo }),
          ...(input.threadId !== undefined && { threadId: input.threadId }),
          ...(mentions.ids.length > 0 && { mentions: mentions.ids }),
          ...(mentions.all && { mentionsAll: true }),
          // Always set, empty too: a message without the field is one stored before search (the backfill's to do).
          words
        },
        live: {
          ...(input.originConnectionId !== undefined && { skipConnection: input.originConnectionId }),
          ...(input.trace !== undefined && { trace: input.trace })
        }
      })
      if (result.created) deps.onSent?.(result.message, input.source, input.trace)
      // The uploads point to their message now (a node that stops before this leaves a claim the sweep settles).
      if (attachments.length > 0) await deps.attachments.settle(attachments, result.message.id)
      // The root's summary after the reply (its new_message goes first): a failure here is the summary's
      // alone, never the reply's, which is stored; the next reply to the thread sums it up again.
      if (result.created && input.threadId !== undefined) await updateThread(input.conversationId, input.threadId).catch((err: unknown) => deps.onThreadError?.(err, input.threadId!))
      return await created(result)
    },

    /**
     * GET /search/messages: the caller's messages (of the conversations they
     * are in now; at most SEARCH_MAX_CONVERSATIONS, the most recently active)
     * holding every word of `q`, its phrases as runs, and its operators;
     * newest first. A page examines at most SEARCH_MAX_SCAN candidates: one
     * cut short answers fewer items and a cursor to go on from.
     */
    async search (userId: string, params: { q: string, conversationId?: string, limit: number, cursor?: string }) {
      const query = parseSearchQuery(params.q)
      const after = params.cursor === undefined ? undefined : decodeSearchCursor(params.cursor)
      let conversations: ConversationRecord[]
      if (params.conversationId !== undefined) conversations = [(await requireMember(store, params.conversationId, userId)).conversation]
      else conversations = await store.conversations.listForUser(userId, SEARCH_MAX_CONVERSATIONS)
      const empty = { items: [], nextCursor: null }
      if (conversations.length === 0) return empty
      let senderId: string | undefined
      if (query.from !== undefined) {
        const sender = await store.users.findByLogin(query.from)
        if (sender === null || sender.username.toLowerCase() !== query.from) return empty
        senderId = sender.id
      }
      const found: MessageRecord[] = []
      let cursor = after
      let scanned = 0
      let more = false
      while (found.length <= params.limit && scanned < SEARCH_MAX_SCAN) {
        const batch = Math.min(SEARCH_MAX_SCAN - scanned, Math.max(params.limit + 1, query.phrases.length > 0 ? 100 : 0))
        const candidates = await store.messages.search({
          conversationIds: conversations.map((c) => c.id),
          wordSets: query.words.length > 0 ? [query.words] : [],
          ...(senderId !== undefined && { senderId }),
          ...(query.before !== undefined && { before: query.before }),
          ...(query.after !== undefined && { from: query.after }),
          hasAttachment: query.hasAttachment,
          ...(cursor !== undefined && { after: cursor }),
          limit: batch
        })
        scanned += candidates.length
        for (const m of candidates) {
          cursor = { sentAt: m.sentAt, id: m.id }
          if (query.phrases.length > 0) {
            const words = wordsIn(m.content)
            if (!query.phrases.every((p) => containsPhrase(words, p))) continue
          }
          found.push(m)
          if (found.length > params.limit) break
        }
        if (candidates.length < batch) break
        // Cut short by the scan bound: what is left goes on from the last candidate looked at.
        if (scanned >= SEARCH_MAX_SCAN && found.length <= params.limit) more = true
      }
      const page = found.slice(0, params.limit)
      if (found.length > params.limit) more = true
      const last = found.length > params.limit ? page.at(-1) : undefined
      const byId = new Map(conversations.map((c) => [c.id, c]))
      // The views of each conversation's hits at once (its members and their reactions in one read each), in page order.
      const views = new Map<string, MessageView>()
      for (const conversationId of new Set(page.map((m) => m.conversationId))) {
        const hits = page.filter((m) => m.conversationId === conversationId)
        const made = await viewsOf(hits, await store.memberships.listByConversation(conversationId))
        hits.forEach((m, i) => views.set(m.id, made[i]!))
      }
      const items = page.map((m) => {
        const c = byId.get(m.conversationId)!
        return { message: views.get(m.id)!, conversation: { id: c.id, type: c.type, ...(c.name !== undefined && { name: c.name }) } }
      })
      const resumeAt = last ?? cursor
      return { items, nextCursor: more && resumeAt !== undefined ? encodeSearchCursor(resumeAt) : null }
    },

    /**
     * Search words for messages stored before search existed (or before a
     * deployment ran this version): one batch; answers how many it did. Each
     * is set only while the message still has none, so an edit or a deletion
     * meanwhile wins.
     */
    async backfillWords (batch = 200): Promise<number> {
      const todo = await store.messages.unindexed(batch)
      for (const m of todo) await store.messages.setWords(m, searchable(m.contentType, m.content))
      return todo.length
    },

    /** A page of history, sorted by seq ascending (see MessageRepository.page for the bounds). */
    async history (userId: string, conversationId: string, query: { limit: number, beforeSeq?: number, afterSeq?: number, threadId?: string }) {
      if (query.beforeSeq !== undefined && query.afterSeq !== undefined && query.afterSeq >= query.beforeSeq) {
        throw validationError('afterSeq must be below beforeSeq', { field: 'afterSeq' })
      }
      await requireMember(store, conversationId, userId)
      const [page, members] = await Promise.all([
        store.messages.page(conversationId, query),
        store.memberships.listByConversation(conversationId)
      ])
      return { items: await viewsOf(page.items, members), hasMore: page.hasMore }
    },

    async edit (userId: string, conversationId: string, messageId: string, content: string): Promise<MessageView> {
      await requireMember(store, conversationId, userId)
      const message = await messageIn(conversationId, messageId)
      if (!policy.canEditMessage(message, userId)) throw forbidden('only the sender may edit a message')
      if (message.deletedAt !== undefined) throw conflict('the message was deleted')
      validateMessageContent(message.contentType, content, message.attachments, deps.limits)
      const mentions = await mentionsIn(conversationId, userId, content)
      // At the next version of the conversation's timeline (a claim), in order with its sends on this node.
      return changeMessage(conversationId, messageId, async (version) => {
        const at = now()
        const edited = await store.messages.edit({ conversationId, id: messageId }, content, at, version, mentions, searchable(message.contentType, content))
        if (edited === null || edited.deletedAt !== undefined) throw conflict('the message was deleted')
        if (edited.version !== version) return LOST
        await store.conversations.replaceLastMessage(conversationId, lastMessageOf(edited), at)
        await store.messages.updateQuotes(conversationId, messageId, quoteOf(edited.content))
        const [view] = await viewsOf([edited], await store.memberships.listByConversation(conversationId))
        await publish(channels.conversation(conversationId), { event: { type: 'message_updated', message: view } })
        await record([{ key: `message.updated:${messageId}:${edited.version}`, type: 'message.updated', data: view as unknown as Record<string, unknown> }])
        return view!
      })
    },

    /** PUT .../reactions/:emoji: the caller reacts (again: nothing changes). */
    addReaction: (userId: string, conversationId: string, messageId: string, emoji: string) => react(userId, conversationId, messageId, emoji, true),

    /** DELETE .../reactions/:emoji: the caller's reaction goes (none: nothing changes). */
    removeReaction: (userId: string, conversationId: string, messageId: string, emoji: string) => react(userId, conversationId, messageId, emoji, false),

    /** Leaves a tombstone: seq kept, content and attachments emptied, deletedAt set. Deleting twice is harmless. */
    async remove (userId: string, conversationId: string, messageId: string): Promise<void> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      const message = await messageIn(conversationId, messageId)
      if (!policy.canDeleteMessage(conversation, message, membership)) throw forbidden('you may delete only your own messages')
      // Deleted already: a rerun finishes what the first run may have left (its uploads' bytes).
      const deleted = (m: MessageRecord) => record([{ key: `message.deleted:${messageId}`, type: 'message.deleted', data: { conversationId, messageId, seq: m.seq, version: m.version, deletedBy: userId, deletedAt: (m.deletedAt ?? now()).toISOString() } }])
      if (message.deletedAt !== undefined) { await deleted(message); await removeAttachments(messageId); return }
      await changeMessage(conversationId, messageId, async (version) => {
        const at = now()
        const gone = await store.messages.tombstone({ conversationId, id: messageId }, at, version)
        if (gone === null) throw notFound('message')
        // Not deleted: a later change landed first; delete again above it. (Deleted by another: told at its version.)
        if (gone.deletedAt === undefined) return LOST
        await store.conversations.replaceLastMessage(conversationId, lastMessageOf(gone), at)
        await store.messages.updateQuotes(conversationId, messageId, '')
        await publish(channels.conversation(conversationId), { event: { type: 'message_deleted', conversationId, messageId, seq: gone.seq, version: gone.version } })
        await deleted(gone)
      })
      await removeAttachments(messageId)
      if (message.threadId !== undefined) await updateThread(conversationId, message.threadId).catch((err: unknown) => deps.onThreadError?.(err, message.threadId!))
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
