import type { MessageRecord, VersionClaim } from '../../domain/types.js'
import { isClaim, type MessageKey, type MessageRepository, type TimelineEntry } from '../port.js'
import { DuplicateKeyError } from '../../domain/errors.js'
import { UniqueIndex, copy } from './unique-index.js'
import { resealIn, scanIn } from './reseal.js'

export function createMemoryMessageRepository (): MessageRepository {
  const messages = new Map<string, MessageRecord>()
  const bySeq = new UniqueIndex<TimelineEntry>('seq', (m) => `${m.conversationId}:${m.seq}`)
  const byClientId = new UniqueIndex<MessageRecord>('clientMessageId', (m) => JSON.stringify([m.conversationId, m.senderId, m.clientMessageId]))
  /** conversationId -> its messages, kept sorted by seq */
  const timelines = new Map<string, MessageRecord[]>()
  /** conversationId -> its messages, kept sorted by version (what a sync reads) */
  const versionLines = new Map<string, MessageRecord[]>()
  /** conversationId -> its version claims, kept sorted by seq */
  const claims = new Map<string, VersionClaim[]>()

  const found = (m: MessageRecord | undefined) => (m === undefined ? null : copy(m))
  /** The message a key names, if it is in the conversation the key says (as the sharded MongoDB store finds it). */
  const inConversation = (key: MessageKey): MessageRecord | undefined => {
    const m = messages.get(key.id)
    return m?.conversationId === key.conversationId ? m : undefined
  }

  /** The index of the first entry of `list` (sorted by `key`) whose key is above `value`: a binary search. */
  function firstAbove<T> (list: readonly T[], key: (e: T) => number, value: number): number {
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (key(list[mid]!) <= value) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const firstAfter = (timeline: ReadonlyArray<{ seq: number }>, seq: number) => firstAbove(timeline, bySeqKey, seq)

  /** Inserts keeping `list` sorted by `key`: an append, except when two nodes raced. */
  function insertSorted<T> (lists: Map<string, T[]>, conversationId: string, entry: T, key: (e: T) => number) {
    const list = lists.get(conversationId) ?? []
    let i = list.length
    while (i > 0 && key(list[i - 1]!) > key(entry)) i--
    list.splice(i, 0, entry)
    lists.set(conversationId, list)
  }
  const bySeqKey = (e: { seq: number }) => e.seq
  const byVersionKey = (m: MessageRecord) => m.version

  /** A message moves to a later version: to its new place in the version line. */
  function setMentions (m: MessageRecord, mentions: { ids: string[], all: boolean }) {
    if (mentions.ids.length > 0) m.mentions = [...mentions.ids]
    else delete m.mentions
    if (mentions.all) m.mentionsAll = true
    else delete m.mentionsAll
  }

  function moveTo (m: MessageRecord, version: number) {
    const line = versionLines.get(m.conversationId) ?? []
    // Versions are unique in a conversation: the entry just below the first above m's is m.
    const at = firstAbove(line, byVersionKey, m.version) - 1
    if (line[at] === m) line.splice(at, 1)
    m.version = version
    insertSorted(versionLines, m.conversationId, m, byVersionKey)
  }

  function insert (input: TimelineEntry): void {
    if (isClaim(input)) {
      const claim = copy(input)
      bySeq.check(claim, claim.id)
      bySeq.add(claim, claim.id)
      insertSorted(claims, claim.conversationId, claim, bySeqKey)
      return
    }
    const message = copy(input)
    bySeq.check(message, message.id)
    byClientId.check(message, message.id)
    bySeq.add(message, message.id)
    byClientId.add(message, message.id)
    messages.set(message.id, message)
    insertSorted(timelines, message.conversationId, message, bySeqKey)
    insertSorted(versionLines, message.conversationId, message, byVersionKey)
  }

  return {
    async scan (afterId, limit) { return scanIn(messages, afterId, limit) },
    async reseal (id, guard, set) { return resealIn(messages, id, guard, set) },
    async insertMany (input) {
      for (let i = 0; i < input.length; i++) {
        try {
          insert(input[i]!)
        } catch (err) {
          if (err instanceof DuplicateKeyError) return { inserted: i, duplicate: err }
          throw err
        }
      }
      return { inserted: input.length }
    },

    async findById (key) {
      return found(inConversation(key))
    },

    async findByClientMessageId (conversationId, senderId, clientMessageId) {
      const id = byClientId.get(JSON.stringify([conversationId, senderId, clientMessageId]))
      return found(id === undefined ? undefined : messages.get(id))
    },

    async page (conversationId, { limit, beforeSeq, afterSeq, threadId }) {
      // Bounds by binary search, then one slice: a page costs O(log n + limit), not a scan of the conversation
      // (a thread's page scans the conversation for its messages: this adapter is for one node's tests and demos).
      const all = timelines.get(conversationId) ?? []
      const timeline = threadId === undefined ? all : all.filter((m) => m.id === threadId || m.threadId === threadId)
      const from = afterSeq === undefined ? 0 : firstAfter(timeline, afterSeq)
      const to = beforeSeq === undefined ? timeline.length : firstAfter(timeline, beforeSeq - 1)
      const size = Math.max(0, to - from)
      const items = afterSeq !== undefined ? timeline.slice(from, Math.min(to, from + limit)) : timeline.slice(Math.max(from, to - limit), to)
      return { items: items.map(copy), hasMore: size > limit }
    },

    async countUnread (conversationId, afterSeq, excludeSenderId, cap) {
      let n = 0
      const timeline = timelines.get(conversationId) ?? []
      for (let i = firstAfter(timeline, afterSeq); i < timeline.length; i++) {
        const m = timeline[i]!
        if (m.senderId !== excludeSenderId && m.deletedAt === undefined && ++n >= cap) break
      }
      return n
    },

    async countUnreadMentions (conversationId, afterSeq, userId, cap) {
      let n = 0
      const timeline = timelines.get(conversationId) ?? []
      for (let i = firstAfter(timeline, afterSeq); i < timeline.length; i++) {
        const m = timeline[i]!
        if (m.senderId !== userId && m.deletedAt === undefined && (m.mentionsAll === true || m.mentions?.includes(userId) === true) && ++n >= cap) break
      }
      return n
    },

    async changedSince (conversationId, afterVersion, limit) {
      const line = versionLines.get(conversationId) ?? []
      const from = firstAbove(line, byVersionKey, afterVersion)
      return { items: line.slice(from, from + limit).map(copy), hasMore: line.length - from > limit }
    },

    async lastSeq (conversationId) {
      return Math.max(timelines.get(conversationId)?.at(-1)?.seq ?? 0, claims.get(conversationId)?.at(-1)?.seq ?? 0)
    },

    async search (q) {
      const out: MessageRecord[] = []
      for (const conversationId of q.conversationIds) {
        for (const m of timelines.get(conversationId) ?? []) {
          if (m.deletedAt !== undefined) continue
          if (q.wordSets.length > 0 && !q.wordSets.some((set) => set.every((w) => m.words?.includes(w) === true))) continue
          if (q.senderId !== undefined && m.senderId !== q.senderId) continue
          if (q.before !== undefined && m.sentAt >= q.before) continue
          if (q.from !== undefined && m.sentAt < q.from) continue
          if (q.hasAttachment && m.attachments.length === 0) continue
          if (q.after !== undefined && !(m.sentAt < q.after.sentAt || (m.sentAt.getTime() === q.after.sentAt.getTime() && m.id < q.after.id))) continue
          out.push(m)
        }
      }
      out.sort((a, b) => b.sentAt.getTime() - a.sentAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      return out.slice(0, q.limit).map(copy)
    },

    async unindexed (limit) {
      const out: MessageRecord[] = []
      for (const m of messages.values()) {
        if (out.length >= limit) break
        if (m.words === undefined && m.deletedAt === undefined) out.push(copy(m))
      }
      return out
    },

    async setWords (key, words) {
      const m = inConversation(key)
      if (m !== undefined && m.words === undefined && m.deletedAt === undefined) m.words = [...words]
    },

    async claimsSince (conversationId, afterSeq, limit) {
      const list = claims.get(conversationId) ?? []
      return list.slice(firstAfter(list, afterSeq), firstAfter(list, afterSeq) + limit).map(copy)
    },

    async edit (key, content, editedAt, version, mentions = { ids: [], all: false }, words = []) {
      const m = inConversation(key)
      if (m === undefined) return null
      if (m.deletedAt === undefined && m.version < version) {
        m.content = content
        m.editedAt = editedAt
        setMentions(m, mentions)
        m.words = [...words]
        moveTo(m, version)
      }
      return copy(m)
    },

    async tombstone (key, deletedAt, version) {
      const m = inConversation(key)
      if (m === undefined) return null
      if (m.deletedAt === undefined && m.version < version) {
        m.content = ''
        m.attachments = []
        m.deletedAt = deletedAt
        setMentions(m, { ids: [], all: false })
        delete m.words
        delete m.pinnedAt
        delete m.pinnedBy
        moveTo(m, version)
      }
      return copy(m)
    },

    async setPin (key, pin, version) {
      const m = inConversation(key)
      if (m === undefined) return null
      if (m.deletedAt === undefined && m.version < version) {
        if (pin === null) {
          delete m.pinnedAt
          delete m.pinnedBy
        } else {
          m.pinnedAt = pin.at
          m.pinnedBy = pin.by
        }
        moveTo(m, version)
      }
      return copy(m)
    },

    async pinned (conversationId, limit) {
      return (timelines.get(conversationId) ?? [])
        .filter((m) => m.pinnedAt !== undefined)
        .sort((a, b) => b.pinnedAt!.getTime() - a.pinnedAt!.getTime() || b.seq - a.seq)
        .slice(0, limit)
        .map(copy)
    },

    async threadSummary (conversationId, rootId) {
      const replies = (timelines.get(conversationId) ?? []).filter((m) => m.threadId === rootId && m.deletedAt === undefined)
      const last = replies.at(-1)
      return {
        replyCount: replies.length,
        ...(last !== undefined && { lastReplyAt: last.sentAt, lastReplySeq: last.seq }),
        participantIds: [...new Set(replies.map((m) => m.senderId))].sort()
      }
    },

    async setThread (key, thread, version) {
      const m = inConversation(key)
      if (m === undefined) return null
      if (m.version < version) {
        m.thread = { ...thread, participantIds: [...thread.participantIds] }
        moveTo(m, version)
      }
      return copy(m)
    },

    async updateQuotes (conversationId, quotedId, content) {
      for (const m of timelines.get(conversationId) ?? []) if (m.replyTo?.id === quotedId) m.replyTo.content = content
    },

    async touch (key, version) {
      const m = inConversation(key)
      if (m === undefined) return null
      if (m.version < version) moveTo(m, version)
      return copy(m)
    }
  }
}
