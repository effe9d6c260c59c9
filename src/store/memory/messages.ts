import type { MessageRecord } from '../../domain/types.js'
import type { MessageRepository } from '../port.js'
import { DuplicateKeyError } from '../../domain/errors.js'
import { UniqueIndex, copy } from './unique-index.js'

export function createMemoryMessageRepository (): MessageRepository {
  const messages = new Map<string, MessageRecord>()
  const bySeq = new UniqueIndex<MessageRecord>('seq', (m) => `${m.conversationId}:${m.seq}`)
  const byClientId = new UniqueIndex<MessageRecord>('clientMessageId', (m) => JSON.stringify([m.conversationId, m.senderId, m.clientMessageId]))
  /** conversationId -> its messages, kept sorted by seq */
  const timelines = new Map<string, MessageRecord[]>()

  const found = (m: MessageRecord | undefined) => (m === undefined ? null : copy(m))

  /** The index of the first message with a seq above `seq` (binary search: the timeline is sorted). */
  const firstAfter = (timeline: MessageRecord[], seq: number) => {
    let lo = 0
    let hi = timeline.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (timeline[mid]!.seq <= seq) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  function insert (input: MessageRecord): MessageRecord {
    const message = copy(input)
    bySeq.check(message, message.id)
    byClientId.check(message, message.id)
    bySeq.add(message, message.id)
    byClientId.add(message, message.id)
    messages.set(message.id, message)
    const timeline = timelines.get(message.conversationId) ?? []
    // A node stores each conversation's seqs in order, so this is an append except when two nodes raced.
    let i = timeline.length
    while (i > 0 && timeline[i - 1]!.seq > message.seq) i--
    timeline.splice(i, 0, message)
    timelines.set(message.conversationId, timeline)
    return message
  }

  return {
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

    async findById (id) {
      return found(messages.get(id))
    },

    async findByClientMessageId (conversationId, senderId, clientMessageId) {
      const id = byClientId.get(JSON.stringify([conversationId, senderId, clientMessageId]))
      return found(id === undefined ? undefined : messages.get(id))
    },

    async page (conversationId, { limit, beforeSeq, afterSeq }) {
      // Bounds by binary search, then one slice: a page costs O(log n + limit), not a scan of the conversation.
      const timeline = timelines.get(conversationId) ?? []
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

    async edit (id, content, editedAt) {
      const m = messages.get(id)
      if (m === undefined) return null
      if (m.deletedAt === undefined) {
        m.content = content
        m.editedAt = editedAt
      }
      return copy(m)
    },

    async tombstone (id, deletedAt) {
      const m = messages.get(id)
      if (m === undefined) return null
      if (m.deletedAt === undefined) {
        m.content = ''
        m.attachments = []
        m.deletedAt = deletedAt
      }
      return copy(m)
    }
  }
}
