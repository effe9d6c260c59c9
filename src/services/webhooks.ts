import { randomBytes } from 'node:crypto'
import { matchesHash, sha256 } from '../domain/secrets.js'
import { conflict, forbidden, notFound, unauthorized } from '../domain/errors.js'
import { isManager } from '../domain/conversations.js'
import { botIdentity } from '../domain/users.js'
import type { WebhookRecord } from '../domain/types.js'
import type { Store } from '../store/port.js'
import { newId } from '../store/ids.js'
import { requireMember } from './access.js'
import type { MessageService, SendInput, SendResult } from './messages.js'
import type { Senders } from './senders.js'
import { enforceLimit } from '../limits/enforce.js'
import type { Limiter } from '../limits/port.js'
import type { Trace } from '../domain/events.js'

export interface WebhookServiceDeps {
  store: Store
  messages: MessageService
  senders: Senders
  /** A user's limit on creating webhooks (absent: unlimited). */
  createLimiter?: Limiter
  /** Webhooks one user may have created, and one conversation may have. */
  caps: { perUser: number, perConversation: number }
  now?: () => Date
}


export interface WebhookView {
  id: string
  name: string
  conversationId: string
  botUserId: string
  createdBy: string
  createdAt: string
  /** False once its creator is no longer a participant: it then posts nothing. */
  active: boolean
}

const toView = (w: WebhookRecord, active: boolean): WebhookView => ({
  id: w.id, name: w.name, conversationId: w.conversationId, botUserId: w.botUserId, createdBy: w.createdBy, createdAt: w.createdAt.toISOString(), active
})

/**
 * Incoming webhooks for integrators: a secret URL that posts into one
 * conversation as the webhook's own bot user. The token is shown once and
 * stored only as a SHA-256 hash.
 */
export function createWebhookService (deps: WebhookServiceDeps) {
  const { store } = deps
  const now = deps.now ?? (() => new Date())

  async function webhookIn (conversationId: string, webhookId: string) {
    const webhook = await store.webhooks.findById(webhookId)
    if (webhook === null || webhook.conversationId !== conversationId) throw notFound('webhook')
    return webhook
  }

  return {
    async create (userId: string, conversationId: string, name: string): Promise<WebhookView & { token: string }> {
      await requireMember(store, conversationId, userId)
      if (deps.createLimiter !== undefined) await enforceLimit(deps.createLimiter, userId)
      // Checked before the insert: creations racing past them are bounded by the creation limit.
      const [mine, here] = await Promise.all([store.webhooks.countCreatedBy(userId), store.webhooks.listByConversation(conversationId)])
      if (mine >= deps.caps.perUser) throw conflict(`you have created ${deps.caps.perUser} webhooks, the most one user may`)
      if (here.length >= deps.caps.perConversation) throw conflict(`this conversation has ${deps.caps.perConversation} webhooks, the most it may`)
      const id = newId()
      // The bot can never log in: its kind is 'bot' and its hash matches no password.
      const bot = await store.users.create({
        username: botIdentity.username(id), email: botIdentity.email(id), displayName: name, passwordHash: '!', kind: 'bot'
      })
      const token = randomBytes(32).toString('base64url')
      const webhook = await store.webhooks.insert({
        id, conversationId, name, tokenHash: sha256(token).toString('hex'), botUserId: bot.id, createdBy: userId, createdAt: now()
      })
      return { ...toView(webhook, true), token }
    },

    async list (userId: string, conversationId: string): Promise<WebhookView[]> {
      await requireMember(store, conversationId, userId)
      const [webhooks, members] = await Promise.all([store.webhooks.listByConversation(conversationId), store.memberships.listByConversation(conversationId)])
      const participants = new Set(members.map((m) => m.userId))
      return webhooks.map((w) => toView(w, participants.has(w.createdBy)))
    },

    /** Its creator may delete it, and in a group the owner and admins. */
    async remove (userId: string, conversationId: string, webhookId: string): Promise<void> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      const webhook = await webhookIn(conversationId, webhookId)
      if (webhook.createdBy !== userId && !(conversation.type === 'group' && isManager(membership.role))) {
        throw forbidden('only its creator or a group admin may delete a webhook')
      }
      await store.webhooks.remove(webhookId)
    },

    /** Posts a message as the webhook's bot: 404 for an unknown (or deleted) webhook, 401 for a wrong token. */
    async post (webhookId: string, token: string, input: Pick<SendInput, 'content' | 'contentType' | 'clientMessageId' | 'attachments'>, trace?: Trace): Promise<SendResult> {
      const webhook = await store.webhooks.findById(webhookId)
      if (webhook === null) throw notFound('webhook')
      if (!matchesHash(token, webhook.tokenHash)) throw unauthorized('the webhook token is wrong')
      return deps.messages.send(deps.senders.webhook(webhook), { ...input, conversationId: webhook.conversationId, source: 'webhook', ...(trace !== undefined && { trace }) })
    }
  }
}

export type WebhookService = ReturnType<typeof createWebhookService>
