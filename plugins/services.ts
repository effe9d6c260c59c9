import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import { createMembershipCache } from '../src/services/membership-cache.js'
import { createAuthService, type AuthService } from '../src/services/auth.js'
import { createUserService, type UserService } from '../src/services/users.js'
import { createConversationService, type ConversationService } from '../src/services/conversations.js'
import { createMessageService, type MessageService } from '../src/services/messages.js'
import { createWebhookService, type WebhookService } from '../src/services/webhooks.js'

declare module 'fastify' {
  interface FastifyInstance {
    services: {
      auth: AuthService
      users: UserService
      conversations: ConversationService
      messages: MessageService
      webhooks: WebhookService
    }
  }
}

/** Wires the use cases from src/services to the store, broker and token signer. */
export default fp(async (app) => {
  const { store, broker, config } = app
  const onPublishError = (err: unknown, channel: string) => {
    app.log.warn({ err: (err as Error).message, channel }, 'broker publish failed; the message is stored and clients recover it by sync')
  }
  const members = app.config.MEMBERSHIP_CACHE_TTL_MS > 0 ? createMembershipCache({ store, broker, ttlMs: app.config.MEMBERSHIP_CACHE_TTL_MS }) : undefined
  if (members !== undefined) app.addHook('onClose', async () => members.close())
  const messages = createMessageService({
    store,
    broker,
    ...(members !== undefined && { members }),
    limits: { maxTextLength: config.MESSAGE_MAX_LENGTH, maxAttachments: config.MESSAGE_MAX_ATTACHMENTS },
    rateLimits: config.rateLimits,
    onPublishError,
    onSeqConflict: () => app.metrics.seqConflicts.inc(),
    onLastMessageError: (err, conversationId) => {
      app.log.warn({ err: (err as Error).message, conversationId }, 'lastMessage update failed; the messages are stored and the next one moves it on')
    },
    onSent: (message, source, trace) => {
      app.metrics.messagesSent.inc({ source })
      app.log.info({ messageId: message.id, conversationId: message.conversationId, seq: message.seq, source, ...trace, nodeId: broker.nodeId }, 'message stored and published')
    }
  })
  app.decorate('services', {
    auth: createAuthService({
      store,
      signAccessToken: (userId) => app.jwt.sign({ sub: userId, jti: randomUUID() }),
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlDays: config.REFRESH_TOKEN_TTL_DAYS
    }),
    users: createUserService({ store }),
    conversations: createConversationService({
      store,
      broker,
      groupMaxParticipants: config.GROUP_MAX_PARTICIPANTS,
      onPublishError,
      ...(members !== undefined && { onMembershipEnded: (conversationId: string, userId: string) => members.forget(conversationId, userId) })
    }),
    messages,
    webhooks: createWebhookService({ store, broker, messages, rateLimit: config.rateLimits?.webhook ?? null })
  })
}, { name: 'services', dependencies: ['config', 'store', 'broker', 'auth', 'metrics'] })
