import type { MessageRecord } from '../../domain/types.js'
import type { MessageRepository } from '../port.js'
import { UniqueIndex, copy } from './unique-index.js'

export function createMemoryMessageRepository (): MessageRepository {
  const messages = new Map<string, MessageRecord>()
  const bySeq = new UniqueIndex<MessageRecord>('seq', (m) => `${m.conversationId}:${m.seq}`)
  const byClientId = new UniqueIndex<MessageRecord>('clientMessageId', (m) => JSON.stringify([m.conversationId, m.senderId, m.clientMessageId]))
  /** conversationId -> its messages, kept sorted by seq */
  const timelines = new Map<string, MessageRecord[]>()

  const found = (m: MessageRecord | undefined) => (m === undefined ? null : copy(m))

  return {
    async insert (input) {
      const message = copy(input)
      bySeq.check(message, message.id)
      byClientId.check(message, message.id)
      bySeq.add(message, message.id)
      byClientId.add(message, message.id)
      messages.set(message.id, message)
      const timeline = timelines.get(message.conversationId) ?? []
      // Seqs are allocated in order, so this is an append except after a lost race.
      let i = timeline.length
      while (i > 0 && timeline[i - 1]!.seq > message.seq) i--
      timeline.splice(i, 0, message)
      timelines.set(message.conversationId, timeline)
      return copy(message)
    },

    async findById (id) {
      return found(messages.get(id))
    },

    async findByClientMessageId (conversationId, senderId, clientMessageId) {
      const id = byClientId.get(JSON.stringify([conversationId, senderId, clientMessageId]))
      return found(id === undefined ? undefined : messages.get(id))
    },

    async page (conversationId, { limit, beforeSeq, afterSeq }) {
      const inRange = (timelines.get(conversationId) ?? [])
        .filter((m) => (beforeSeq === undefined || m.seq < beforeSeq) && (afterSeq === undefined || m.seq > afterSeq))
      const items = afterSeq !== undefined ? inRange.slice(0, limit) : inRange.slice(Math.max(0, inRange.length - limit))
      return { items: items.map(copy), hasMore: inRange.length > limit }
    },

    async countUnread (conversationId, afterSeq, excludeSenderId, cap) {
      let n = 0
      for (const m of timelines.get(conversationId) ?? []) {
        if (m.seq > afterSeq && m.senderId !== excludeSenderId && m.deletedAt === undefined && ++n >= cap) break
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
