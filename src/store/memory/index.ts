import type { Store } from '../port.js'
import { createMemoryUserRepository } from './users.js'
import { createMemoryRefreshTokenRepository } from './refresh-tokens.js'
import { createMemoryConversationRepository } from './conversations.js'
import { createMemoryMembershipRepository } from './memberships.js'
import { createMemoryMessageRepository } from './messages.js'
import { createMemoryWebhookRepository } from './webhooks.js'
import { createMemoryReactionRepository } from './reactions.js'
import { createMemoryAttachmentRepository, createMemoryBlobRepository } from './attachments.js'
import type { EncryptionKeyRepository } from '../port.js'
import { createMemoryBotRepository, createMemoryEventEndpointRepository, createMemoryOutboxRepository } from './outgoing.js'

function createMemoryEncryptionKeyRepository (): EncryptionKeyRepository {
  const used = new Set<string>()
  return {
    async markUsed (keyId) { used.add(keyId) },
    async retire (keyId) { used.delete(keyId) },
    async inUse () { return [...used].sort() }
  }
}

/**
 * The embedded store: real, in-process, and not durable. Everything is lost
 * when the process exits; it honours the same unique rules as the mongo adapter.
 */
export function createMemoryStore (): Store {
  let closed = false
  return {
    kind: 'memory',
    async init () {},
    onRecover () {
      return () => {}
    },
    async ping () {
      if (closed) throw new Error('memory store is closed')
    },
    async close () {
      closed = true
    },
    users: createMemoryUserRepository(),
    refreshTokens: createMemoryRefreshTokenRepository(),
    conversations: createMemoryConversationRepository(),
    memberships: createMemoryMembershipRepository(),
    messages: createMemoryMessageRepository(),
    reactions: createMemoryReactionRepository(),
    webhooks: createMemoryWebhookRepository(),
    attachments: createMemoryAttachmentRepository(),
    blobs: createMemoryBlobRepository(),
    encryptionKeys: createMemoryEncryptionKeyRepository(),
    eventEndpoints: createMemoryEventEndpointRepository(),
    outbox: createMemoryOutboxRepository(),
    bots: createMemoryBotRepository()
  }
}
