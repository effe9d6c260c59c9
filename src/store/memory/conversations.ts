import { resealIn, scanIn } from './reseal.js'
import type { ConversationRecord } from '../../domain/types.js'
import type { ConversationRepository } from '../port.js'
import { UniqueIndex, copy } from './unique-index.js'

/** Most recent activity first; ties by id, descending. */
export const byActivityDesc = (a: { updatedAt: Date, id: string }, b: { updatedAt: Date, id: string }) =>
  b.updatedAt.getTime() - a.updatedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

export function createMemoryConversationRepository (): ConversationRepository {
  const conversations = new Map<string, ConversationRecord>()
  const byDirectKey = new UniqueIndex<ConversationRecord>('directKey', (c) => c.directKey)

  const found = (c: ConversationRecord | undefined) => (c === undefined ? null : copy(c))

  return {
    async scan (afterId, limit) { return scanIn(conversations, afterId, limit) },
    async reseal (id, guard, set) { return resealIn(conversations, id, guard, set) },
    async insert (input) {
      const conversation = copy(input)
      byDirectKey.check(conversation, conversation.id)
      byDirectKey.add(conversation, conversation.id)
      conversations.set(conversation.id, conversation)
      return copy(conversation)
    },

    async findById (id) {
      return found(conversations.get(id))
    },

    async findByDirectKey (directKey) {
      const id = byDirectKey.get(directKey)
      return found(id === undefined ? undefined : conversations.get(id))
    },

    async countGroupsCreatedBy (userId) {
      let n = 0
      for (const c of conversations.values()) if (c.type === 'group' && c.createdBy === userId) n++
      return n
    },

    async listForUser (userId, limit, after) {
      return [...conversations.values()]
        .filter((c) => c.participantIds.includes(userId))
        .filter((c) => after === undefined || byActivityDesc(after, c) < 0)
        .sort(byActivityDesc)
        .slice(0, limit)
        .map(copy)
    },

    async setLastMessage (id, lastMessage, updatedAt) {
      const c = conversations.get(id)
      if (c === undefined || (c.lastMessage !== undefined && c.lastMessage.seq >= lastMessage.seq)) return
      c.lastMessage = copy(lastMessage)
      if (c.lastSeq < lastMessage.seq) c.lastSeq = lastMessage.seq
      if (c.updatedAt < updatedAt) c.updatedAt = updatedAt
    },

    async raiseLastSeq (id, seq) {
      const c = conversations.get(id)
      if (c !== undefined && c.lastSeq < seq) c.lastSeq = seq
    },

    async replaceLastMessage (id, lastMessage, updatedAt) {
      const c = conversations.get(id)
      if (c === undefined || c.lastMessage?.id !== lastMessage.id) return
      c.lastMessage = copy(lastMessage)
      if (c.updatedAt < updatedAt) c.updatedAt = updatedAt
    },

    async update (id, patch, updatedAt, version) {
      const c = conversations.get(id)
      if (c === undefined) return null
      if (c.version >= version) return copy(c)
      c.version = version
      if (patch.name !== undefined) c.name = patch.name
      if (patch.avatar === null) delete c.avatar
      else if (patch.avatar !== undefined) c.avatar = patch.avatar
      c.updatedAt = updatedAt
      return copy(c)
    },

    async setParticipants (id, participantIds, updatedAt, version) {
      const c = conversations.get(id)
      if (c === undefined) return null
      if (c.version >= version) return copy(c)
      c.version = version
      c.participantIds = [...participantIds]
      c.updatedAt = updatedAt
      return copy(c)
    }
  }
}
