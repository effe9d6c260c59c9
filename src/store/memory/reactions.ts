import type { ReactionRecord } from '../../domain/types.js'
import type { ReactionRepository } from '../port.js'
import { copy } from './unique-index.js'

export function createMemoryReactionRepository (): ReactionRepository {
  // messageId -> `userId\0emoji` -> reaction, in the order they were added.
  const byMessage = new Map<string, Map<string, ReactionRecord>>()
  const key = (userId: string, emoji: string) => `${userId}\u0000${emoji}`
  return {
    async add (reaction) {
      const mine = byMessage.get(reaction.messageId) ?? new Map<string, ReactionRecord>()
      byMessage.set(reaction.messageId, mine)
      const k = key(reaction.userId, reaction.emoji)
      if (mine.has(k)) return false
      mine.set(k, copy(reaction))
      return true
    },
    async remove (messageId, userId, emoji) {
      return byMessage.get(messageId)?.delete(key(userId, emoji)) ?? false
    },
    async forMessages (messageIds) {
      return messageIds.flatMap((id) => [...byMessage.get(id)?.values() ?? []]).map(copy)
    }
  }
}
