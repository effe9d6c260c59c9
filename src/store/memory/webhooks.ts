import type { WebhookRecord } from '../../domain/types.js'
import type { WebhookRepository } from '../port.js'
import { copy } from './unique-index.js'

export function createMemoryWebhookRepository (): WebhookRepository {
  const webhooks = new Map<string, WebhookRecord>()
  return {
    async insert (input) {
      webhooks.set(input.id, copy(input))
      return copy(input)
    },
    async findById (id) {
      const w = webhooks.get(id)
      return w === undefined ? null : copy(w)
    },
    async listByConversation (conversationId) {
      return [...webhooks.values()]
        .filter((w) => w.conversationId === conversationId)
        .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1))
        .map(copy)
    },
    async countCreatedBy (userId) {
      let n = 0
      for (const w of webhooks.values()) if (w.createdBy === userId) n++
      return n
    },
    async remove (id) {
      return webhooks.delete(id)
    }
  }
}
