import { toMessageView, type ConversationView, type MessageView } from '../domain/conversations.js'
import type { AttachmentLinks } from '../domain/attachments.js'
import { CONVERSATION_TARGET, type MembershipRecord, type MessageRecord } from '../domain/types.js'
import type { Store } from '../store/port.js'
import type { ConversationService } from './conversations.js'

/** A frame of a sync's replay, as the websocket protocol defines it. */
export type SyncFrame =
  | { type: 'conversation_updated', conversation: ConversationView }
  | { type: 'conversation_removed', conversationId: string }
  | { type: 'new_message', message: MessageView }
  | { type: 'message_updated', message: MessageView }
  | { type: 'message_deleted', conversationId: string, messageId: string, seq: number, version: number }

export interface SyncBatch {
  /** The frames, in the order to send them, each with its JSON text. */
  frames: Array<{ frame: SyncFrame, text: string }>
  /** conversationId → the cursor to send next time, for every conversation this batch covered. */
  cursors: Record<string, number>
  /** Conversations cut short (more changes than this batch holds). */
  truncated: string[]
  /** More to replay: the client syncs again with the cursors. */
  hasMore: boolean
}

export interface SyncLimits {
  /** Changes one batch replays per conversation. */
  perConversation: number
  /** The JSON text one batch may hold (frames beyond it wait for the next batch). */
  maxBytes: number
  /** Conversations one batch looks at. */
  maxConversations: number
}

export interface SyncServiceDeps {
  store: Store
  conversations: Pick<ConversationService, 'viewFor'>
  limits: SyncLimits
  /** Signs the links of uploaded attachments. */
  links: AttachmentLinks
  /** How long a version claim whose change is not visible yet holds a cursor back (after that the change failed). */
  pendingMs: number
  now?: () => Date
}

/** Version claims read per conversation and batch, to find changes still being applied. */
const CLAIMS_PER_CONVERSATION = 1000

/**
 * A resume that misses nothing. Per conversation: the conversation, then
 * everything changed after the device's cursor from the version index
 * (messages in their state now), then the version claims after it. A claim
 * whose change is not visible yet (claimed, not yet applied, by any node)
 * holds the cursor below it, so no change is ever skipped; what changed after
 * it is sent all the same and the next sync sends it again (the client drops
 * what it has by version). Numbers are taken in order (each only after the
 * one below it is taken), so: every number below the conversation's version
 * was taken before the conversation was read, every number below a message's
 * version before the messages were read, and the claims, read last, hold
 * every change that was taken but not visible then.
 */
export function createSyncService (deps: SyncServiceDeps) {
  const { store, limits } = deps
  const now = deps.now ?? (() => new Date())

  /** What changed in one conversation after `cursor`, within `budget` bytes. */
  async function conversationBatch (conversationId: string, membership: MembershipRecord, cursor: number, hasCursor: boolean, userId: string, budget: number) {
    // The conversation first, then the changes, then the claims: the order the proof above rests on.
    const conversation = await store.conversations.findById(conversationId)
    if (conversation === null) return undefined
    const changed = await store.messages.changedSince(conversationId, cursor, limits.perConversation)
    const claims = await store.messages.claimsSince(conversationId, cursor, CLAIMS_PER_CONVERSATION)
    const byId = new Map(changed.items.map((m) => [m.id, m]))
    // More claims than read: the cursor stays at or below the last one read (the rest are looked at next time).
    let pending = claims.length === CLAIMS_PER_CONVERSATION ? claims.at(-1)!.seq + 1 : Infinity
    // Cut short by the per-conversation limit: nothing beyond the last version read goes in this batch.
    const readUpTo = changed.hasMore ? changed.items.at(-1)!.version : Infinity
    const cutoff = now().getTime() - deps.pendingMs
    for (const claim of claims) {
      let applied: boolean
      if (claim.target === CONVERSATION_TARGET) {
        applied = conversation.version >= claim.seq
      } else {
        // A change applied after the messages were read: sent too, in its state now.
        let m: MessageRecord | null | undefined = byId.get(claim.target)
        if (m === undefined || m.version < claim.seq) {
          m = await store.messages.findById({ conversationId, id: claim.target })
          if (m !== null && m.version >= claim.seq) byId.set(m.id, m)
        }
        applied = m !== null && m.version >= claim.seq
      }
      if (!applied && claim.claimedAt.getTime() > cutoff) pending = Math.min(pending, claim.seq)
    }
    const items = [...byId.values()].filter((m) => m.version <= readUpTo).sort((a, b) => a.version - b.version)
    const [members, reactions] = items.length > 0
      ? await Promise.all([store.memberships.listByConversation(conversationId), store.reactions.forMessages(items.filter((m) => m.deletedAt === undefined).map((m) => m.id))])
      : [[], []]
    const frames: SyncBatch['frames'] = []
    let used = 0
    const push = (frame: SyncFrame) => {
      const text = JSON.stringify(frame)
      frames.push({ frame, text })
      used += text.length
    }
    if (!hasCursor || conversation.version > cursor) push({ type: 'conversation_updated', conversation: await deps.conversations.viewFor(conversation, userId, membership) })
    let reached = cursor
    let cut = changed.hasMore
    for (const m of items) {
      if (used >= budget && frames.length > 0) { cut = true; break }
      const view = toMessageView(m, members, reactions, deps.links)
      if (m.seq > cursor) push({ type: 'new_message', message: view })
      else if (m.deletedAt !== undefined) push({ type: 'message_deleted', conversationId, messageId: m.id, seq: m.seq, version: m.version })
      else push({ type: 'message_updated', message: view })
      if (m.version < pending) reached = Math.max(reached, m.version)
    }
    // Cut short: as far as it went. Complete: as far as anything seen, below the first change still pending.
    const next = cut ? reached : Math.min(pending - 1, Math.max(reached, conversation.version))
    return { frames, cursor: Math.max(cursor, next), cut, used }
  }

  return {
    /**
     * One batch of a sync for `userId`: per conversation (in id order), what
     * changed after its cursor (the device's, else the user's delivered
     * watermark), within the batch's limits; conversation_removed for cursors
     * of conversations the user is not in.
     */
    async sync (userId: string, cursors: Record<string, number> = {}): Promise<SyncBatch> {
      const ids = (await store.memberships.conversationIdsOf(userId)).sort()
      const mine = new Map((await store.memberships.listForUser(userId, ids)).map((m) => [m.conversationId, m]))
      const batch: SyncBatch = { frames: [], cursors: {}, truncated: [], hasMore: false }
      let used = 0
      const removed = (id: string) => {
        const frame: SyncFrame = { type: 'conversation_removed', conversationId: id }
        const text = JSON.stringify(frame)
        batch.frames.push({ frame, text })
        used += text.length
      }
      for (const id of Object.keys(cursors)) if (!mine.has(id)) removed(id)
      let looked = 0
      for (const id of ids) {
        const membership = mine.get(id)
        if (membership === undefined) continue
        const hasCursor = Object.hasOwn(cursors, id)
        const cursor = hasCursor ? cursors[id]! : membership.deliveredSeq
        // Every number of the timeline at or below the cursor: nothing to replay, and it does not count
        // against the batch, so a batch gets on to the conversations that changed. The highest number is
        // read from the seq index itself (the conversation's lastSeq can lag it, or on FerretDB lose a raise
        // to a concurrent update); a number taken after this read leaves the cursor where it is.
        if (hasCursor && await store.messages.lastSeq(id) <= cursor) continue
        if (looked >= limits.maxConversations || used >= limits.maxBytes) { batch.hasMore = true; break }
        looked++
        const done = await conversationBatch(id, membership, cursor, hasCursor, userId, limits.maxBytes - used)
        if (done === undefined) continue
        batch.frames.push(...done.frames)
        used += done.used
        batch.cursors[id] = done.cursor
        if (done.cut) {
          batch.truncated.push(id)
          batch.hasMore = true
        }
      }
      return batch
    }
  }
}

export type SyncService = ReturnType<typeof createSyncService>
