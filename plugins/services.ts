import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import { createMembershipCache } from '../src/services/membership-cache.js'
import { createAuthService, type AuthService } from '../src/services/auth.js'
import { createUserService, type UserService } from '../src/services/users.js'
import { createConversationService, type ConversationService } from '../src/services/conversations.js'
import { createMessageService, type MessageService } from '../src/services/messages.js'
import { createPublisher } from '../src/services/publisher.js'
import { channels } from '../src/domain/channels.js'
import type { SessionEnded } from '../src/domain/events.js'
import { createSendPipeline } from '../src/services/send-pipeline.js'
import { createSenders, type Senders } from '../src/services/senders.js'
import { createSyncService, type SyncService } from '../src/services/sync.js'
import { createWebhookService, type WebhookService } from '../src/services/webhooks.js'

declare module 'fastify' {
  interface FastifyInstance {
    services: {
      auth: AuthService
      users: UserService
      conversations: ConversationService
      messages: MessageService
      /** Who may send: `senders.user(id)` for a signed-in user, `senders.webhook(record)` for a webhook's bot. */
      senders: Senders
      sync: SyncService
      webhooks: WebhookService
    }
  }
}

/** Wires the use cases from src/services to the store, broker, limits and token signer. */
export default fp(async (app) => {
  const { store, broker, limits, config } = app
  const publish = createPublisher(broker, (err, channel) => {
    app.log.warn({ err: (err as Error).message, channel }, 'broker publish failed; the change is stored and clients recover it by sync')
  })
  const members = config.MEMBERSHIP_CACHE_TTL_MS > 0
    ? createMembershipCache({ store, broker, publish, ttlMs: config.MEMBERSHIP_CACHE_TTL_MS, maxEntries: config.MEMBERSHIP_CACHE_MAX_ENTRIES })
    : undefined
  const pipeline = createSendPipeline({
    store,
    broker,
    publish,
    onSeqConflict: () => app.metrics.seqConflicts.inc(),
    onLastMessageError: (err, conversationId) => {
      app.log.warn({ err: (err as Error).message, conversationId }, 'lastMessage update failed; the messages are stored and the next one moves it on')
    }
  })
  app.addHook('onClose', async () => {
    members?.close()
    pipeline.close()
  })
  const rateLimits = config.rateLimits
  const senders = createSenders({
    store,
    ...(members !== undefined && { members }),
    limiters: rateLimits === null
      ? null
      : {
          sendDirect: limits.limiter('send-direct', rateLimits.sendDirect),
          sendGroup: limits.limiter('send-group', rateLimits.sendGroup),
          webhook: limits.limiter('webhook', rateLimits.webhook),
          webhookConversation: limits.limiter('webhook-conversation', rateLimits.webhookConversation)
        }
  })
  /** A user's own limits on what they change, by name (none with RATE_LIMITS=off). */
  const userLimit = (name: 'conversationCreate' | 'participantChange' | 'conversationUpdate' | 'webhookCreate' | 'reaction') =>
    rateLimits === null ? undefined : limits.limiter(name, rateLimits[name])
  const reactionLimiter = userLimit('reaction')
  const messages = createMessageService({
    store,
    pipeline,
    publish,
    limits: config.messageLimits,
    maxPins: config.MAX_PINS_PER_CONVERSATION,
    onThreadError: (err, rootId) => app.log.warn({ err: (err as Error).message, rootId }, 'thread summary not updated; the reply is stored and the next one sums the thread up again'),
    ...(reactionLimiter !== undefined && { reactionLimiter }),
    onSent: (message, source, trace) => {
      app.metrics.messagesSent.inc({ source })
      app.log.info({ messageId: message.id, conversationId: message.conversationId, seq: message.seq, source, ...trace, nodeId: broker.nodeId }, 'message stored and published')
    }
  })
  const conversations = createConversationService({
    store,
    publish,
    pipeline,
    groupMaxParticipants: config.GROUP_MAX_PARTICIPANTS,
    maxGroupsPerUser: config.MAX_GROUPS_PER_USER,
    limiters: { create: userLimit('conversationCreate'), participants: userLimit('participantChange'), update: userLimit('conversationUpdate') },
    ...(members !== undefined && { onMembershipEnded: (conversationId: string, userId: string) => members.forget(conversationId, userId) })
  })
  app.decorate('services', {
    auth: createAuthService({
      store,
      signAccessToken: (userId, sessionId) => app.jwt.sign({ sub: userId, jti: randomUUID(), sid: sessionId }),
      onSessionEnded: async (userId, sessionId) => {
        // Kept as long as the session's newest access token can live. If Redis misses it, the token
        // is refused while Redis is down (the store is asked then) and otherwise lives out its lifetime.
        await app.revocations.revoke(sessionId, config.ACCESS_TOKEN_TTL_SECONDS * 1000).catch((err: Error) => {
          app.log.warn({ err: err.message }, 'session revocation not shared; its access tokens live until they expire')
        })
        await publish(channels.user(userId), { sessionEnded: sessionId } satisfies SessionEnded)
      },
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlDays: config.REFRESH_TOKEN_TTL_DAYS
    }),
    users: createUserService({ store }),
    conversations,
    messages,
    senders,
    sync: createSyncService({
      store,
      conversations,
      limits: { perConversation: config.SYNC_MAX_PER_CONVERSATION, maxBytes: config.SYNC_BATCH_MAX_BYTES, maxConversations: config.SYNC_BATCH_MAX_CONVERSATIONS },
      pendingMs: config.SYNC_PENDING_CHANGE_MS
    }),
    webhooks: createWebhookService({ store, messages, senders, createLimiter: userLimit('webhookCreate'), caps: { perUser: config.MAX_WEBHOOKS_PER_USER, perConversation: config.MAX_WEBHOOKS_PER_CONVERSATION } })
  })
}, { name: 'services', dependencies: ['config', 'store', 'broker', 'limits', 'revocations', 'auth', 'metrics'] })
