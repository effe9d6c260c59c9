import { randomUUID } from 'node:crypto'
import { AppError, conflict, forbidden, notFound, validationError } from '../domain/errors.js'
import { policy, toMessageView, type MessageView } from '../domain/conversations.js'
import { validateMessageContent, type MessageLimits } from '../domain/messages.js'
import type { Attachment, ContentType, MessageRecord } from '../domain/types.js'
import type { Broker } from '../broker/port.js'
import type { Store } from '../store/port.js'
import { newId } from '../store/ids.js'
import type { RateLimitSetting } from '../config.js'
import { channels, enforceLimit, requireMember } from './access.js'
import { setBounded } from './bounded-map.js'
import { createCommitQueue, type Outcome } from './commit-queue.js'
import type { MembershipCache } from './membership-cache.js'
import type { LiveEvent, Trace } from '../domain/events.js'

export type MessageSource = 'rest' | 'ws' | 'webhook'

export interface SendInput {
  conversationId: string
  senderId: string
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

export interface SendResult {
  message: MessageView
  /** false when the clientMessageId was seen before and the first message is answered. */
  created: boolean
}

export interface MessageServiceDeps {
  store: Store
  broker: Broker
  /** The send path's authorisation check, cached (requireMember when absent). */
  members?: MembershipCache
  limits: MessageLimits
  rateLimits: { sendDirect: RateLimitSetting, sendGroup: RateLimitSetting } | null
  /** Called after each new message is stored and published (metrics, logs). */
  onSent?: (message: MessageView, source: MessageSource, trace: Trace | undefined) => void
  onPublishError?: (err: unknown, channel: string) => void
  /** An insert found a seq taken by another node (it then tries the next). */
  onSeqConflict?: () => void
  /** The messages were stored, but the conversation's lastMessage and lastSeq were not moved on. */
  onLastMessageError?: (err: unknown, conversationId: string) => void
  now?: () => Date
}

/** How often a batch looks for free seqs after finding one taken by another node. */
const SEQ_ATTEMPTS = 8
/** Conversations whose highest seq this node keeps in mind. */
const KNOWN_SEQS = 10_000
/** Messages this node stored lately, by (conversation, sender, clientMessageId): a resend here is answered without the store. */
const RECENT_SENDS = 10_000
/** The most sends of one conversation stored with one insert and one conversation update. */
const MAX_BATCH = 64

/** A send that passed its checks, waiting for its turn in the conversation's queue. */
interface Draft {
  message: Omit<MessageRecord, 'id' | 'seq' | 'sentAt'>
  input: SendInput
}

const lastMessageOf = (m: MessageRecord) => ({ id: m.id, seq: m.seq, content: m.content, senderId: m.senderId, sentAt: m.sentAt })

export function createMessageService (deps: MessageServiceDeps) {
  const { store, broker } = deps
  const now = deps.now ?? (() => new Date())

  /** Publishes after the write is acknowledged; a broker failure never undoes a stored message (clients catch up by sync). */
  async function publish (conversationId: string, live: LiveEvent) {
    const channel = channels.conversation(conversationId)
    try {
      await broker.publish(channel, live)
    } catch (err) {
      deps.onPublishError?.(err, channel)
    }
  }

  /**
   * The highest seq this node knows to be taken, per conversation (bounded;
   * oldest forgotten first). It is never ahead of the store: it moves on
   * after this node's inserts and when another node's message is fanned out
   * here. When it is behind, the unique (conversationId, seq) index refuses
   * the insert and the store's lastSeq is read again.
   */
  const knownSeq = new Map<string, number>()
  function learnSeq (conversationId: string, seq: number) {
    const known = knownSeq.get(conversationId)
    if (known === undefined || known < seq) setBounded(knownSeq, conversationId, seq, KNOWN_SEQS)
  }
  async function storedLastSeq (conversationId: string): Promise<number> {
    const conversation = await store.conversations.findById(conversationId)
    if (conversation === null) throw notFound('conversation')
    return conversation.lastSeq
  }

  /**
   * Stores a batch of one conversation's sends, in queue order: one ordered
   * insert with the seqs after the highest known, each new message published
   * in seq order, then one update of the conversation (lastMessage, lastSeq).
   * No seq is taken before a message is stored, so a failed send leaves no
   * gap, and a message is stored only after every lower seq is (a reader
   * that sees seq n finds every seq below it, whichever node stored them). A
   * refused insert leaves the messages before it stored: a resend of a
   * message stored before is answered with it (its seq goes to the next
   * draft); a seq another node took sends the rest after the store's lastSeq.
   * A failure after some were stored fails only the others.
   */
  async function commit (conversationId: string, drafts: Draft[]): Promise<Array<Outcome<SendResult>>> {
    const out: Array<Outcome<SendResult> | undefined> = new Array(drafts.length)
    // One message per (sender, clientMessageId): a copy in the same batch is answered with the first.
    const firstOf = new Map<string, number>()
    const copies: Array<[copy: number, first: number]> = []
    let todo: number[] = []
    drafts.forEach((d, i) => {
      const key = `${d.message.senderId}\u0000${d.message.clientMessageId}`
      const first = firstOf.get(key)
      if (first === undefined) { firstOf.set(key, i); todo.push(i) } else copies.push([i, first])
    })
    /** What was stored, in seq order, with the index of its draft. */
    const stored: Array<{ record: MessageRecord, view: MessageView, i: number }> = []
    try {
      let base = knownSeq.get(conversationId) ?? await storedLastSeq(conversationId)
      let collisions = 0
      while (todo.length > 0) {
        const sentAt = now()
        const records = todo.map((i, j): MessageRecord => ({ id: newId(), seq: base + 1 + j, ...drafts[i]!.message, sentAt }))
        const { inserted, duplicate } = await store.messages.insertMany(records)
        for (let j = 0; j < inserted; j++) {
          const view = toMessageView(records[j]!, [])
          stored.push({ record: records[j]!, view, i: todo[j]! })
          out[todo[j]!] = { ok: true, value: { message: view, created: true } }
          remember(records[j]!)
        }
        todo = todo.slice(inserted)
        base += inserted
        if (inserted > 0) {
          learnSeq(conversationId, base)
          collisions = 0
        }
        if (duplicate === undefined) break
        const draft = drafts[todo[0]!]!.message
        const first = duplicate.field === 'clientMessageId' ? await store.messages.findByClientMessageId(conversationId, draft.senderId, draft.clientMessageId) : null
        if (first !== null) {
          // A resend of a message stored before (by another node, or before this node
          // restarted): answered with it; the next draft takes the seq it did not use.
          out[todo[0]!] = { ok: true, value: await answerFirst(first) }
          todo = todo.slice(1)
          continue
        }
        // Another node stored seq base + 1 (it sends into this conversation too, most
        // often one message at a time): the next try is after it, at once; after
        // a second refusal in a row, after the store's lastSeq as well.
        deps.onSeqConflict?.()
        if (++collisions >= SEQ_ATTEMPTS) throw new AppError('INTERNAL_ERROR', 'could not find a free sequence number')
        base = collisions === 1 ? base + 1 : Math.max(await storedLastSeq(conversationId), base + 1)
      }
    } catch (error) {
      knownSeq.delete(conversationId)
      for (const i of todo) out[i] ??= { ok: false, error }
    }
    if (stored.length > 0) {
      // Delivered first, in seq order (each broker keeps the order of its publishes),
      // then the conversation's lastMessage and lastSeq once for the batch.
      await Promise.all(stored.map(({ view, i }) => {
        const { input } = drafts[i]!
        return publish(conversationId, {
          event: { type: 'new_message', message: view },
          ...(input.originConnectionId !== undefined && { skipConnection: input.originConnectionId }),
          ...(input.trace !== undefined && { trace: { ...input.trace, nodeId: broker.nodeId } })
        })
      }))
      const newest = stored.at(-1)!.record
      try {
        await store.conversations.setLastMessage(conversationId, lastMessageOf(newest), newest.sentAt)
      } catch (err) {
        // The messages are stored and delivered: they are answered all the same; the
        // next message's update moves lastMessage and lastSeq past them.
        deps.onLastMessageError?.(err, conversationId)
      }
    }
    for (const [copy, first] of copies) {
      const answer = out[first]
      out[copy] = answer?.ok === true ? { ok: true, value: { message: answer.value.message, created: false } } : answer
    }
    return out.map((o) => o ?? { ok: false, error: new AppError('INTERNAL_ERROR', 'send not stored') })
  }

  const queue = createCommitQueue<Draft, SendResult>(commit, { maxBatch: MAX_BATCH })

  /**
   * The messages this node stored lately (oldest first: a Map keeps insertion
   * order). A resend is usually to the node that stored the first copy (the
   * ack was lost, the socket stayed); a resend to another node is caught by
   * the unique index at insert instead, and costs one unused seq.
   */
  const recent = new Map<string, MessageRecord>()
  const recentKey = (conversationId: string, senderId: string, clientMessageId: string) => `${conversationId}\u0000${senderId}\u0000${clientMessageId}`
  function remember (record: MessageRecord) {
    setBounded(recent, recentKey(record.conversationId, record.senderId, record.clientMessageId), record, RECENT_SENDS)
  }

  /** The answer to a resend: the first message, as stored. */
  const answerFirst = async (first: MessageRecord): Promise<SendResult> =>
    ({ message: toMessageView(first, await store.memberships.listByConversation(first.conversationId)), created: false })

  /** Loads a message of this conversation; 404 for a message of another one. */
  async function messageIn (conversationId: string, messageId: string): Promise<MessageRecord> {
    const message = await store.messages.findById(messageId)
    if (message === null || message.conversationId !== conversationId) throw notFound('message')
    return message
  }

  return {
    /**
     * The one path for a new message, whoever sends it (REST, websocket,
     * webhook): validate, authorise, deduplicate, rate limit, persist with
     * the next seq, then publish. `asBot` skips the membership check: a
     * webhook's own record authorises its bot.
     */
    async send (input: SendInput, opts: { asBot?: boolean } = {}): Promise<SendResult> {
      const contentType = input.contentType ?? 'text'
      const content = input.content ?? ''
      const attachments = input.attachments ?? []
      validateMessageContent(contentType, content, attachments, deps.limits)

      // The place in the conversation's queue is taken now, before any wait, so
      // this node stores (and publishes) a conversation's sends in the order
      // they arrived, and one socket's sends in the order it sent them, while
      // their checks run side by side. One batch at a time per conversation on
      // this node: FerretDB, whose $inc is a read-modify-write, then never hands
      // one seq to two local sends. Sends from other nodes can still collide: the
      // unique (conversationId, seq) index refuses the second, which takes a new seq.
      const slot = queue.reserve(input.conversationId)
      try {
        const conversation = opts.asBot === true
          ? await store.conversations.findById(input.conversationId).then((found) => { if (found === null) throw notFound('conversation'); return found })
          : deps.members !== undefined ? await deps.members.check(input.conversationId, input.senderId) : (await requireMember(store, input.conversationId, input.senderId)).conversation
        const first = input.clientMessageId === undefined ? undefined : recent.get(recentKey(input.conversationId, input.senderId, input.clientMessageId))
        if (first !== undefined) {
          slot.cancel()
          return await answerFirst(first)
        }
        if (opts.asBot !== true && deps.rateLimits !== null) {
          const limit = conversation.type === 'group' ? deps.rateLimits.sendGroup : deps.rateLimits.sendDirect
          await enforceLimit(broker, `send:${conversation.type}:${input.senderId}`, limit)
        }
      } catch (err) {
        slot.cancel()
        throw err
      }
      const result = await slot.fill({
        message: {
          conversationId: input.conversationId,
          senderId: input.senderId,
          content,
          contentType,
          attachments,
          clientMessageId: input.clientMessageId ?? `srv-${randomUUID()}`
        },
        input
      })
      if (result.created) deps.onSent?.(result.message, input.source, input.trace)
      return result
    },

    /** A message of this conversation was fanned out on this node (perhaps stored by another): its seq is taken. */
    observeSeq (conversationId: string, seq: number): void {
      learnSeq(conversationId, seq)
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
      const at = now()
      const edited = await store.messages.edit(messageId, content, at)
      if (edited === null || edited.deletedAt !== undefined) throw conflict('the message was deleted')
      await store.conversations.replaceLastMessage(conversationId, lastMessageOf(edited), at)
      const view = toMessageView(edited, await store.memberships.listByConversation(conversationId))
      await publish(conversationId, { event: { type: 'message_updated', message: view } })
      return view
    },

    /** Leaves a tombstone: seq kept, content and attachments emptied, deletedAt set. Deleting twice is harmless. */
    async remove (userId: string, conversationId: string, messageId: string): Promise<void> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      const message = await messageIn(conversationId, messageId)
      if (!policy.canDeleteMessage(conversation, message, membership)) throw forbidden('you may delete only your own messages')
      if (message.deletedAt !== undefined) return
      const at = now()
      const gone = await store.messages.tombstone(messageId, at)
      if (gone === null) throw notFound('message')
      await store.conversations.replaceLastMessage(conversationId, lastMessageOf(gone), at)
      await publish(conversationId, { event: { type: 'message_deleted', conversationId, messageId, seq: gone.seq } })
    },

    /**
     * For a sync: per conversation of the user, the messages after its cursor
     * (the device's own, else the user's delivered watermark), oldest first,
     * at most `perConversation`. Cursors of conversations the user is not in are ignored.
     */
    async missedMessages (userId: string, cursors: Record<string, number> | undefined, perConversation: number) {
      const ids = await store.memberships.conversationIdsOf(userId)
      const mine = new Map((await store.memberships.listForUser(userId, ids)).map((m) => [m.conversationId, m]))
      const out: Array<{ conversationId: string, messages: MessageView[], truncated: boolean }> = []
      for (const conversationId of ids) {
        const afterSeq = cursors?.[conversationId] ?? mine.get(conversationId)?.deliveredSeq ?? 0
        const page = await store.messages.page(conversationId, { afterSeq, limit: perConversation })
        if (page.items.length === 0) continue
        const members = await store.memberships.listByConversation(conversationId)
        out.push({ conversationId, messages: page.items.map((m) => toMessageView(m, members)), truncated: page.hasMore })
      }
      return out
    },

    /** Relays typing to the conversation's other participants (membership is checked by the caller's hub). */
    async typing (conversationId: string, userId: string, isTyping: boolean): Promise<void> {
      await publish(conversationId, { event: { type: 'typing', conversationId, userId, isTyping }, skipUser: userId })
    },

    /**
     * Moves the caller's watermark forward (never back; capped at the last
     * seq) and tells the other participants with a receipt.
     */
    async acknowledge (userId: string, conversationId: string, kind: 'delivered' | 'read', seq: number): Promise<{ seq: number, at: Date }> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      // Capped at the last message stored: the conversation's lastSeq, or a later one this
      // node has stored or fanned out (lastSeq is raised just after the fan-out).
      const capped = Math.min(seq, Math.max(conversation.lastSeq, knownSeq.get(conversationId) ?? 0))
      const current = kind === 'read' ? membership.readSeq : membership.deliveredSeq
      const at = now()
      if (capped <= current) return { seq: current, at }
      await store.memberships.advance(conversationId, userId, kind, capped, at)
      await publish(conversationId, { event: { type: 'receipt', conversationId, userId, kind, seq: capped, at: at.toISOString() }, skipUser: userId })
      return { seq: capped, at }
    }
  }
}

export type MessageService = ReturnType<typeof createMessageService>
