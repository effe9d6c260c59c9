import { createHmac, randomUUID } from 'node:crypto'
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
import { createAttachmentService, type AttachmentService } from '../src/services/attachments.js'
import { createAttachmentLinks, type AttachmentLinks } from '../src/domain/attachments.js'
import { createEventService, type EventService } from '../src/services/events.js'
import { botSessionId, createBotService, type BotService } from '../src/services/bots.js'

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
      attachments: AttachmentService
      /** Outgoing events: recorded by the services above, delivered by the outbox plugin; the admin API's endpoints and deliveries. */
      events: EventService
      bots: BotService
    }
    /** Signs and checks the links of uploads. */
    attachmentLinks: AttachmentLinks
    /** Calls `wake` whenever this node records outgoing events (the dispatcher); answers its remover. */
    onEventsRecorded (wake: () => void): () => void
  }
}

/** Wires the use cases from src/services to the store, broker, limits and token signer. */
export default fp(async (app) => {
  const { store, broker, limits, config } = app
  const publish = createPublisher(broker, (err, channel) => {
    app.log.warn({ err: (err as Error).message, channel }, 'broker publish failed; the change is stored and clients recover it by sync')
  })
  // The dispatcher (plugins/outbox.ts) is told when this node records something to deliver.
  const recorded = new Set<() => void>()
  const events = createEventService({
    store,
    allowPrivate: config.eventEndpointsAllowPrivate,
    retryForMs: config.EVENT_RETRY_FOR_MS,
    onRecorded: () => { for (const wake of recorded) wake() }
  })
  const members = config.MEMBERSHIP_CACHE_TTL_MS > 0
    ? createMembershipCache({ store, broker, publish, ttlMs: config.MEMBERSHIP_CACHE_TTL_MS, maxEntries: config.MEMBERSHIP_CACHE_MAX_ENTRIES })
    : undefined
  // One key on every node: ATTACHMENT_URL_KEY, or one derived from JWT_SECRET (never the secret itself).
  const linkKey = config.ATTACHMENT_URL_KEY !== undefined ? Buffer.from(config.ATTACHMENT_URL_KEY) : createHmac('sha256', config.JWT_SECRET).update('attachment links').digest()
  const links = createAttachmentLinks(linkKey, config.ATTACHMENT_URL_TTL_SECONDS, config.PUBLIC_URL ?? '')
  const attachments = createAttachmentService({
    store,
    links,
    maxBytes: config.ATTACHMENT_MAX_BYTES,
    quotaBytes: config.ATTACHMENT_QUOTA_BYTES,
    orphanTtlMs: config.ATTACHMENT_ORPHAN_TTL_MS,
    // An upload must arrive within HTTP_REQUEST_TIMEOUT_MS; one still uploading well after that was cut off.
    uploadGraceMs: Math.max(3600_000, config.HTTP_REQUEST_TIMEOUT_MS * 2),
    ...(config.rateLimits !== null && { conversationLimiter: limits.limiter('upload-conversation', config.rateLimits.uploadConversation) })
  })
  const pipeline = createSendPipeline({
    store,
    broker,
    publish,
    links,
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
    links,
    attachments,
    onAttachmentCleanupError: (err, messageId) => app.log.warn({ err: (err as Error).message, messageId }, 'a deleted message\'s uploads were not all removed; the sweep finishes them'),
    publish,
    limits: config.messageLimits,
    maxPins: config.MAX_PINS_PER_CONVERSATION,
    onThreadError: (err, rootId) => app.log.warn({ err: (err as Error).message, rootId }, 'thread summary not updated; the reply is stored and the next one sums the thread up again'),
    ...(reactionLimiter !== undefined && { reactionLimiter }),
    events,
    onSent: (message, source, trace) => {
      app.metrics.messagesSent.inc({ source })
      app.metrics.messageSize.observe(Buffer.byteLength(message.content))
      app.log.info({ messageId: message.id, conversationId: message.conversationId, seq: message.seq, source, ...trace, nodeId: broker.nodeId }, 'message stored and published')
    }
  })
  // Messages stored before search existed get their words, a batch at a time, in the background at start
  // (every node may: a message's words are set only while it has none).
  let backfilling = true
  app.addHook('onClose', async () => { backfilling = false })
  void (async () => {
    let done = 0
    try {
      for (let n = await messages.backfillWords(); n > 0 && backfilling; n = await messages.backfillWords()) {
        done += n
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      if (done > 0) app.log.info({ messages: done }, 'search words set for messages stored before search')
    } catch (err) {
      if (backfilling) app.log.warn({ err: (err as Error).message }, 'search words backfill stopped; the next start goes on with it')
    }
  })()
  const conversations = createConversationService({
    store,
    publish,
    pipeline,
    groupMaxParticipants: config.GROUP_MAX_PARTICIPANTS,
    maxGroupsPerUser: config.MAX_GROUPS_PER_USER,
    limiters: { create: userLimit('conversationCreate'), participants: userLimit('participantChange'), update: userLimit('conversationUpdate') },
    events,
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
      pendingMs: config.SYNC_PENDING_CHANGE_MS,
      links
    }),
    webhooks: createWebhookService({ store, messages, senders, createLimiter: userLimit('webhookCreate'), caps: { perUser: config.MAX_WEBHOOKS_PER_USER, perConversation: config.MAX_WEBHOOKS_PER_CONVERSATION } }),
    attachments,
    events,
    bots: createBotService({
      store,
      maxPerOwner: config.MAX_BOTS_PER_USER,
      // Its sockets close on every node, as a session that ended does.
      onRevoked: (botId) => publish(channels.user(botId), { sessionEnded: botSessionId(botId) } satisfies SessionEnded)
    })
  })
  app.decorate('attachmentLinks', links)
  app.decorate('onEventsRecorded', (wake: () => void) => { recorded.add(wake); return () => recorded.delete(wake) })

  // The sweep of abandoned uploads: every node tries each interval, the first to claim it runs it.
  const sweepEvery = config.ATTACHMENT_SWEEP_INTERVAL_MS
  const sweepTimer = setInterval(() => {
    attachments.sweep(Math.floor(Date.now() / sweepEvery)).then(({ swept, removed }) => {
      if (swept && removed > 0) app.log.info({ removed }, 'attachment sweep removed uploads')
    }, (err: unknown) => app.log.warn({ err: (err as Error).message }, 'attachment sweep failed; the next one tries again'))
  }, sweepEvery)
  sweepTimer.unref()
  app.addHook('onClose', async () => { clearInterval(sweepTimer) })
}, { name: 'services', dependencies: ['config', 'store', 'broker', 'limits', 'revocations', 'auth', 'metrics'] })
