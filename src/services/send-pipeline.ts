import { LRUCache } from 'lru-cache'
import { AppError, notFound } from '../domain/errors.js'
import { toMessageView, type MessageView } from '../domain/conversations.js'
import type { AttachmentLinks } from '../domain/attachments.js'
import { channels, parseChannel } from '../domain/channels.js'
import type { LiveEvent } from '../domain/events.js'
import type { LastMessage, MessageRecord, VersionClaim } from '../domain/types.js'
import type { Broker } from '../broker/port.js'
import { isClaim, type Store, type TimelineEntry } from '../store/port.js'
import { newId } from '../store/ids.js'
import { createCommitQueue, type Outcome, type Slot } from './commit-queue.js'
import type { Publish } from './publisher.js'

/** A send that passed its checks: the message to store, and what its live event carries. */
export interface MessageDraft {
  message: Omit<MessageRecord, 'id' | 'seq' | 'sentAt' | 'version'>
  live: Pick<LiveEvent, 'skipConnection' | 'trace'>
}

/**
 * A change of something that exists (a message, the conversation's details):
 * applied at the version it claimed, and published by `apply` itself, which
 * runs only after every entry before it in the batch was published.
 */
interface ChangeDraft {
  target: string
  apply (version: number): Promise<unknown>
}

type Draft = MessageDraft | ChangeDraft
const isChange = (d: Draft): d is ChangeDraft => 'apply' in d

export interface SendResult {
  message: MessageView
  /** false when the clientMessageId was seen before and the first message is answered. */
  created: boolean
}

export interface SendPipelineDeps {
  store: Store
  /** Where this node learns the seqs other nodes stored (every conversation channel it is subscribed to). */
  broker: Broker
  publish: Publish
  /** Signs the links of uploaded attachments in the views it answers and publishes. */
  links: AttachmentLinks
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

export const lastMessageOf = (m: MessageRecord): LastMessage => ({ id: m.id, seq: m.seq, content: m.content, senderId: m.senderId, sentAt: m.sentAt, contentType: m.contentType, ...(m.deletedAt !== undefined && { deleted: true }) })

const recentKey = (conversationId: string, senderId: string, clientMessageId: string) => `${conversationId}\u0000${senderId}\u0000${clientMessageId}`

/**
 * The write path of a conversation's timeline, per node: one queue per
 * conversation (group commit) for new messages and for changes (edits,
 * deletions, new details), the highest seq known per conversation, and the
 * messages stored lately. A sender reserves its place synchronously, runs its
 * checks, then fills the slot with a draft; the pipeline stores, publishes and
 * answers it. A change takes the next number too (a version claim) and is
 * applied at it: messages and changes share one number space, so a version
 * is unique in its conversation and a seq cursor is a version cursor.
 *
 * No seq is taken before a message is stored (no counter: the unique
 * (conversationId, seq) index is the guard), so a failed send leaves no gap,
 * and a message is stored only after every lower seq is: a reader that sees
 * seq n finds every seq below it, whichever node stored them.
 */
export function createSendPipeline (deps: SendPipelineDeps) {
  const { store, broker, publish } = deps
  const now = deps.now ?? (() => new Date())

  /**
   * The highest seq this node knows to be taken, per conversation (the least
   * recently used forgotten first). It is never ahead of the store: it moves
   * on after this node's inserts and when any node's message arrives on a
   * channel this node is subscribed to. When it is behind, the unique index
   * refuses the insert and the batch carries on after that seq.
   */
  const knownSeqs = new LRUCache<string, number>({ max: KNOWN_SEQS })
  function learnSeq (conversationId: string, seq: number) {
    const known = knownSeqs.get(conversationId)
    if (known === undefined || known < seq) knownSeqs.set(conversationId, seq)
  }
  // Every number another node takes reaches this node as an event with it: a new message's seq, a
  // change's version (on the conversation's channel; details changes on each participant's channel).
  const removeListener = broker.onMessage(({ channel, payload }) => {
    const event = (payload as LiveEvent | undefined)?.event
    if (event === undefined) return
    const { kind, id } = parseChannel(channel)
    if (kind === 'conversation' && id !== undefined) {
      const taken = event.type === 'new_message' ? (event.message as { seq?: unknown }).seq
        : event.type === 'message_updated' ? (event.message as { version?: unknown }).version
          : event.type === 'message_deleted' ? event.version : undefined
      if (typeof taken === 'number') learnSeq(id, taken)
    } else if (kind === 'user' && event.type === 'conversation_updated') {
      const { id: conversationId, version } = event.conversation as { id?: unknown, version?: unknown }
      if (typeof conversationId === 'string' && typeof version === 'number' && version > 0) learnSeq(conversationId, version)
    }
  })

  async function storedLastSeq (conversationId: string): Promise<number> {
    const conversation = await store.conversations.findById(conversationId)
    if (conversation === null) throw notFound('conversation')
    return conversation.lastSeq
  }

  /**
   * The messages this node stored lately. A resend is usually to the node
   * that stored the first copy (the ack was lost, the socket stayed); a
   * resend to another node is caught by the unique index at insert instead.
   */
  const recent = new LRUCache<string, MessageRecord>({ max: RECENT_SENDS })

  /** The answer to a resend: the first message, as stored. */
  const answerFirst = async (first: MessageRecord): Promise<SendResult> =>
    ({ message: toMessageView(first, await store.memberships.listByConversation(first.conversationId), await store.reactions.forMessages([first.id]), deps.links), created: false })

  /**
   * Stores a batch of one conversation's drafts, in queue order, one seq
   * each: one ordered insert of the new messages and of the version claims of
   * the changes, with the seqs after the highest known; then, in seq order,
   * each new message published and each change applied at its version and
   * published; then one update of the conversation (lastMessage, lastSeq).
   * A refused insert leaves the entries before it stored: a resend of a
   * message stored before is answered with it (its seq goes to the next
   * draft); a seq another node took sends the rest after it. A failure after
   * some were stored fails only the others.
   */
  async function commit (conversationId: string, drafts: Draft[]): Promise<Array<Outcome<unknown>>> {
    const out: Array<Outcome<unknown> | undefined> = new Array(drafts.length)
    // One message per (sender, clientMessageId): a copy in the same batch is answered with the first.
    const firstOf = new Map<string, number>()
    const copies: Array<[copy: number, first: number]> = []
    let todo: number[] = []
    drafts.forEach((d, i) => {
      if (isChange(d)) { todo.push(i); return }
      const key = `${d.message.senderId}\u0000${d.message.clientMessageId}`
      const first = firstOf.get(key)
      if (first === undefined) { firstOf.set(key, i); todo.push(i) } else copies.push([i, first])
    })
    /** What was stored, in seq order, with the index of its draft. */
    const stored: Array<{ entry: TimelineEntry, i: number }> = []
    try {
      let base = knownSeqs.get(conversationId) ?? await storedLastSeq(conversationId)
      let collisions = 0
      while (todo.length > 0) {
        const at = now()
        const entries = todo.map((i, j): TimelineEntry => {
          const draft = drafts[i]!
          const seq = base + 1 + j
          return isChange(draft)
            ? { id: newId(), conversationId, seq, target: draft.target, claimedAt: at } satisfies VersionClaim
            : { id: newId(), seq, version: seq, ...draft.message, sentAt: at } satisfies MessageRecord
        })
        const { inserted, duplicate } = await store.messages.insertMany(entries)
        for (let j = 0; j < inserted; j++) {
          const entry = entries[j]!
          stored.push({ entry, i: todo[j]! })
          if (!isChange(drafts[todo[j]!]!)) {
            const record = entry as MessageRecord
            out[todo[j]!] = { ok: true, value: { message: toMessageView(record, [], [], deps.links), created: true } satisfies SendResult }
            recent.set(recentKey(record.conversationId, record.senderId, record.clientMessageId), record)
          }
        }
        todo = todo.slice(inserted)
        base += inserted
        if (inserted > 0) {
          learnSeq(conversationId, base)
          collisions = 0
        }
        if (duplicate === undefined) break
        const draft = drafts[todo[0]!]!
        const first = !isChange(draft) && duplicate.field === 'clientMessageId'
          ? await store.messages.findByClientMessageId(conversationId, draft.message.senderId, draft.message.clientMessageId)
          : null
        if (first !== null) {
          // A resend of a message stored before (by another node, or before this node
          // restarted): answered with it; the next draft takes the seq it did not use.
          out[todo[0]!] = { ok: true, value: await answerFirst(first) }
          todo = todo.slice(1)
          continue
        }
        // Another node stored seq base + 1 (it sends into this conversation too, most
        // often one message at a time): the next try is after it, at once; after
        // a second refusal in a row, after the highest number in the timeline (not the
        // conversation's lastSeq, which is raised only after a commit and lags behind
        // a node that commits batch after batch).
        deps.onSeqConflict?.()
        if (++collisions >= SEQ_ATTEMPTS) throw new AppError('INTERNAL_ERROR', 'could not find a free sequence number')
        base = collisions === 1 ? base + 1 : Math.max(await store.messages.lastSeq(conversationId), base + 1)
      }
    } catch (error) {
      knownSeqs.delete(conversationId)
      for (const i of todo) out[i] ??= { ok: false, error }
    }
    if (stored.length > 0) {
      // In seq order: each broker keeps the order of its publishes, and a change is
      // applied (then published) only after every entry before it was published.
      const published: Array<Promise<void>> = []
      for (const { entry, i } of stored) {
        const draft = drafts[i]!
        if (isChange(draft)) {
          try {
            await Promise.all(published)
            out[i] = { ok: true, value: await draft.apply(entry.seq) }
          } catch (error) {
            out[i] = { ok: false, error }
          }
          continue
        }
        const { live } = draft
        published.push(publish(channels.conversation(conversationId), {
          event: { type: 'new_message', message: (out[i] as { value: SendResult }).value.message },
          ...(live.skipConnection !== undefined && { skipConnection: live.skipConnection }),
          ...(live.trace !== undefined && { trace: { ...live.trace, nodeId: broker.nodeId } })
        }))
      }
      await Promise.all(published)
      const newest = stored.map(({ entry }) => entry).findLast((entry): entry is MessageRecord => !isClaim(entry))
      const highest = stored.at(-1)!.entry.seq
      try {
        if (newest !== undefined) await store.conversations.setLastMessage(conversationId, lastMessageOf(newest), newest.sentAt)
        if (newest === undefined || newest.seq < highest) await store.conversations.raiseLastSeq(conversationId, highest)
      } catch (err) {
        // The entries are stored and delivered: they are answered all the same; the
        // next message's update moves lastMessage and lastSeq past them.
        deps.onLastMessageError?.(err, conversationId)
      }
    }
    for (const [copy, first] of copies) {
      const answer = out[first] as Outcome<SendResult> | undefined
      out[copy] = answer?.ok === true ? { ok: true, value: { message: answer.value.message, created: false } } : answer
    }
    return out.map((o) => o ?? { ok: false, error: new AppError('INTERNAL_ERROR', 'send not stored') })
  }

  const queue = createCommitQueue<Draft, unknown>(commit, { maxBatch: MAX_BATCH })

  return {
    /**
     * Takes a place in the conversation's queue; call synchronously, in
     * arrival order, before any check: this node then stores (and publishes) a
     * conversation's sends in the order they arrived while their checks run
     * side by side.
     */
    reserve (conversationId: string): Slot<MessageDraft, SendResult> {
      return queue.reserve(conversationId) as Slot<MessageDraft, SendResult>
    },

    /**
     * A change of `target` (a message id, or CONVERSATION_TARGET) in the
     * conversation's queue: it claims the next number and `apply` makes the
     * change at that version. Its answer is apply's value.
     */
    async change<T> (conversationId: string, target: string, apply: (version: number) => Promise<T>): Promise<T> {
      return await queue.reserve(conversationId).fill({ target, apply }) as T
    },

    /** A message this node stored lately with this clientMessageId from this sender (a resend), without the store. */
    recentSend (conversationId: string, senderId: string, clientMessageId: string): MessageRecord | undefined {
      return recent.get(recentKey(conversationId, senderId, clientMessageId))
    },

    /** The answer to a resend: the first message, as stored. */
    answerResend: answerFirst,

    /** The highest seq this node knows to be stored in the conversation (0 when it knows none). */
    knownSeq (conversationId: string): number {
      return knownSeqs.get(conversationId) ?? 0
    },

    close (): void {
      removeListener()
    }
  }
}

export type SendPipeline = ReturnType<typeof createSendPipeline>
