/**
 * The REST half of the SDK, typed from the server's own TypeBox schemas (type
 * imports only: nothing of the server is bundled). It keeps the session's
 * tokens, and on a 401 refreshes once with the refresh token and retries.
 */
import type { Static } from '@sinclair/typebox'
import type { Conversation as ConversationSchema, Message as MessageSchema, SendMessageInput, Upload as UploadSchema } from '../../src/schemas/conversations.js'
import type { PublicUser as PublicUserSchema, SelfUser as SelfUserSchema } from '../../src/schemas/users.js'
import type { LoginBody, RegisterBody } from '../../routes/v1/auth/schemas.js'
import type { CreateConversationBody, CreatedWebhook as CreatedWebhookSchema, ParticipantList as ParticipantListSchema, UpdateConversationBody, Webhook as WebhookSchema } from '../../routes/v1/conversations/schemas.js'
import type { UpdateMeBody } from '../../routes/v1/users/schemas.js'
import type { EVENT_TYPES } from '../../src/domain/outgoing.js'
import type { DeliveryView } from '../../src/services/events.js'

export type Message = Static<typeof MessageSchema>
export type Upload = Static<typeof UploadSchema>
/** A page of search hits: each message with its conversation's id, type and name. */
export interface SearchPage {
  items: Array<{ message: Message, conversation: { id: string, type: 'direct' | 'group', name?: string } }>
  nextCursor: string | null
}
/** An attachment as a message carries it. */
export type Attachment = Message['attachments'][number]
export type Conversation = Static<typeof ConversationSchema>
export type PublicUser = Static<typeof PublicUserSchema>
export type SelfUser = Static<typeof SelfUserSchema>
export type Webhook = Static<typeof WebhookSchema>
export type CreatedWebhook = Static<typeof CreatedWebhookSchema>
export type ParticipantList = Static<typeof ParticipantListSchema>
export type RegisterInput = Static<typeof RegisterBody>
export type LoginInput = Static<typeof LoginBody>
export type CreateConversationInput = Static<typeof CreateConversationBody>
export type UpdateConversationInput = Static<typeof UpdateConversationBody>
export type UpdateMeInput = Static<typeof UpdateMeBody>
export type { SendMessageInput }

export interface Session {
  user: SelfUser
  accessToken: string
  refreshToken: string
  expiresIn: number
}

export interface Tokens {
  accessToken: string
  refreshToken: string
}

export interface Presence {
  userId: string
  status: 'online' | 'offline'
  lastSeen?: string
}

/**
 * The contract's error, as thrown by every method: `statusCode` and `code`
 * (VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT,
 * PAYLOAD_TOO_LARGE, RATE_LIMITED, INTERNAL_ERROR, UNAVAILABLE), `field` for a
 * validation error or a conflict (which field), `retryAfter` in seconds for a 429.
 */
export class ApiError extends Error {
  constructor (readonly statusCode: number, readonly code: string, message: string, readonly field?: string, readonly retryAfter?: number) {
    super(message)
    this.name = 'ApiError'
  }
}

/** A JSON answer, or the ApiError it carries. */
function answerOf<T> (status: number, statusText: string, text: string, retryAfterHeader: string | null): T {
  const body = text === '' ? undefined : JSON.parse(text) as unknown
  if (status < 200 || status >= 300) {
    const err = body as { code?: string, message?: string, field?: string } | undefined
    const retryAfter = Number(retryAfterHeader ?? Number.NaN)
    throw new ApiError(status, err?.code ?? 'INTERNAL_ERROR', err?.message ?? statusText, err?.field, Number.isFinite(retryAfter) ? retryAfter : undefined)
  }
  return body as T
}

export interface RestClientOptions {
  /** The server's base URL ('' for the page's own origin in a browser). */
  baseUrl: string
  tokens?: Tokens
  /** A bot's API key (POST /v1/bots answers it once) instead of a session: sent as the Bearer token, never refreshed. */
  apiKey?: string
  /** Called whenever the tokens change (after login, register, refresh; null after logout or a failed refresh). */
  onTokens?: (tokens: Tokens | null) => void
  fetch?: typeof fetch
}

type Query = Record<string, string | number | undefined>

export class RestClient {
  private tokens: Tokens | undefined
  private refreshing: Promise<void> | undefined
  private readonly fetchImpl: typeof fetch

  constructor (private readonly options: RestClientOptions) {
    this.tokens = options.tokens
    this.fetchImpl = options.fetch ?? ((...args) => fetch(...args))
  }

  /** The Bearer token calls carry: the session's access token, or the bot's API key. */
  get accessToken (): string | undefined {
    return this.tokens?.accessToken ?? this.options.apiKey
  }

  get session (): Tokens | undefined {
    return this.tokens
  }

  private setTokens (tokens: Tokens | undefined): void {
    this.tokens = tokens
    this.options.onTokens?.(tokens ?? null)
  }

  /** One call; a 401 on an authenticated call refreshes the tokens once and retries. */
  async request<T> (method: string, path: string, opts: { body?: unknown, form?: FormData, query?: Query, auth?: boolean, retried?: boolean, headers?: Record<string, string> } = {}): Promise<T> {
    const auth = opts.auth ?? true
    const qs = Object.entries(opts.query ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    if (auth && this.accessToken !== undefined) headers.authorization = `Bearer ${this.accessToken}`
    const res = await this.fetchImpl(`${this.options.baseUrl}${path}${qs === '' ? '' : `?${qs}`}`, {
      method,
      headers,
      ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
      // A FormData body sets its own content type (multipart, with its boundary).
      ...(opts.form !== undefined && { body: opts.form })
    })
    if (res.status === 401 && auth && opts.retried !== true && this.tokens !== undefined) {
      await this.refresh()
      return this.request<T>(method, path, { ...opts, retried: true })
    }
    return answerOf<T>(res.status, res.statusText, await res.text(), res.headers.get('retry-after'))
  }

  /**
   * Searches my messages: words (whole words, any case or accents),
   * `"phrases"`, `from:username`, `before:`/`after:YYYY-MM-DD`,
   * `has:attachment`; newest first, `nextCursor` for the next page. A hit
   * opens at its message with `messages(id, { beforeSeq: seq + 1 })`.
   */
  search (q: string, opts: { conversationId?: string, limit?: number, cursor?: string } = {}): Promise<SearchPage> {
    return this.request('GET', '/v1/search/messages', { query: { q, ...opts } })
  }

  /** A path the server answered (an upload's signed `url`, say) as a full URL on this client's base URL; full URLs as they are. */
  urlOf (pathOrUrl: string): string {
    return pathOrUrl.startsWith('/') ? `${this.options.baseUrl}${pathOrUrl}` : pathOrUrl
  }

  /**
   * Uploads a file to a conversation: a Blob or File (in Node, `new
   * Blob([bytes])` or `await fs.openAsBlob(path)`). A send then carries it by
   * `attachments: [{ id }]`. `onProgress(sent, total)` as the bytes leave,
   * where the platform reports it (browsers, through XMLHttpRequest);
   * elsewhere once, when all are sent.
   */
  async upload (conversationId: string, file: Blob, opts: { name?: string, onProgress?: (sent: number, total: number) => void } = {}): Promise<Upload> {
    const name = opts.name ?? ((file as Partial<File>).name ?? 'file')
    const path = `/v1/conversations/${conversationId}/attachments`
    const form = () => { const f = new FormData(); f.append('file', file, name); return f }
    if (opts.onProgress === undefined || typeof XMLHttpRequest === 'undefined') {
      const upload = await this.request<Upload>('POST', path, { form: form() })
      opts.onProgress?.(file.size, file.size)
      return upload
    }
    const onProgress = opts.onProgress
    const once = () => new Promise<{ status: number, statusText: string, text: string, retryAfter: string | null }>((resolve, reject) => {
      const xhr = new XMLHttpRequest()
      xhr.open('POST', `${this.options.baseUrl}${path}`)
      if (this.accessToken !== undefined) xhr.setRequestHeader('authorization', `Bearer ${this.accessToken}`)
      xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) onProgress(ev.loaded, ev.total) }
      xhr.onload = () => resolve({ status: xhr.status, statusText: xhr.statusText, text: xhr.responseText, retryAfter: xhr.getResponseHeader('retry-after') })
      xhr.onerror = () => reject(new TypeError('upload failed: network error'))
      xhr.send(form())
    })
    let res = await once()
    if (res.status === 401 && this.tokens !== undefined) {
      await this.refresh()
      res = await once()
    }
    return answerOf<Upload>(res.status, res.statusText, res.text, res.retryAfter)
  }

  /** The bytes of an attachment (its signed url needs no token; a bare path gets this client's). */
  async download (attachment: Pick<Attachment, 'url'>): Promise<Blob> {
    const signed = attachment.url.includes('signature=')
    const res = await this.fetchImpl(this.urlOf(attachment.url), signed || this.accessToken === undefined ? {} : { headers: { authorization: `Bearer ${this.accessToken}` } })
    if (!res.ok) return answerOf<never>(res.status, res.statusText, await res.text(), res.headers.get('retry-after'))
    return res.blob()
  }

  // Accounts

  async register (input: RegisterInput): Promise<Session> {
    const session = await this.request<Session>('POST', '/v1/auth/register', { body: input, auth: false })
    this.setTokens({ accessToken: session.accessToken, refreshToken: session.refreshToken })
    return session
  }

  async login (input: LoginInput): Promise<Session> {
    const session = await this.request<Session>('POST', '/v1/auth/login', { body: input, auth: false })
    this.setTokens({ accessToken: session.accessToken, refreshToken: session.refreshToken })
    return session
  }

  /** Trades the refresh token for a new pair; concurrent callers share one refresh. */
  refresh (): Promise<void> {
    this.refreshing ??= (async () => {
      const refreshToken = this.tokens?.refreshToken
      if (refreshToken === undefined) throw new ApiError(401, 'UNAUTHORIZED', 'not logged in')
      try {
        const session = await this.request<Session>('POST', '/v1/auth/refresh', { body: { refreshToken }, auth: false })
        this.setTokens({ accessToken: session.accessToken, refreshToken: session.refreshToken })
      } catch (err) {
        if (err instanceof ApiError && err.statusCode === 401) this.setTokens(undefined)
        throw err
      }
    })().finally(() => { this.refreshing = undefined })
    return this.refreshing
  }

  async logout (): Promise<void> {
    const refreshToken = this.tokens?.refreshToken
    if (refreshToken !== undefined) await this.request<void>('POST', '/v1/auth/logout', { body: { refreshToken }, auth: false }).catch(() => {})
    this.setTokens(undefined)
  }

  // Users and presence

  me (): Promise<SelfUser> { return this.request('GET', '/v1/users/me') }
  updateMe (input: UpdateMeInput): Promise<SelfUser> { return this.request('PATCH', '/v1/users/me', { body: input }) }
  async searchUsers (query: string, limit = 20): Promise<PublicUser[]> {
    return (await this.request<{ items: PublicUser[] }>('GET', '/v1/users', { query: { query, limit } })).items
  }

  user (id: string): Promise<PublicUser> { return this.request('GET', `/v1/users/${id}`) }
  async presence (userIds: string[]): Promise<Presence[]> {
    if (userIds.length === 0) return []
    return (await this.request<{ items: Presence[] }>('GET', '/v1/presence', { query: { userIds: userIds.join(',') } })).items
  }

  // Conversations

  createConversation (input: CreateConversationInput): Promise<Conversation> { return this.request('POST', '/v1/conversations', { body: input }) }
  conversations (opts: { limit?: number, cursor?: string } = {}): Promise<{ items: Conversation[], nextCursor: string | null }> {
    return this.request('GET', '/v1/conversations', { query: opts })
  }

  conversation (id: string): Promise<Conversation> { return this.request('GET', `/v1/conversations/${id}`) }
  updateConversation (id: string, input: UpdateConversationInput): Promise<Conversation> { return this.request('PATCH', `/v1/conversations/${id}`, { body: input }) }
  addParticipants (id: string, userIds: string[]): Promise<Conversation> { return this.request('POST', `/v1/conversations/${id}/participants`, { body: { userIds } }) }
  participants (id: string): Promise<ParticipantList> { return this.request('GET', `/v1/conversations/${id}/participants`) }
  /** Removes a participant from a group, or leaves it (userId = mine). */
  removeParticipant (id: string, userId: string): Promise<void> { return this.request('DELETE', `/v1/conversations/${id}/participants/${userId}`) }
  /** The owner makes a member an admin (or back), or hands ownership on ('owner': the old owner becomes an admin). */
  setRole (id: string, userId: string, role: 'owner' | 'admin' | 'member'): Promise<Conversation> { return this.request('PUT', `/v1/conversations/${id}/participants/${userId}/role`, { body: { role } }) }

  // Messages

  /** A page of history, ascending by seq: the newest page, or older (beforeSeq) or newer (afterSeq) ones. */
  messages (conversationId: string, opts: { limit?: number, beforeSeq?: number, afterSeq?: number, threadId?: string } = {}): Promise<{ items: Message[], hasMore: boolean }> {
    return this.request('GET', `/v1/conversations/${conversationId}/messages`, { query: opts })
  }

  sendMessage (conversationId: string, input: SendMessageInput): Promise<Message> { return this.request('POST', `/v1/conversations/${conversationId}/messages`, { body: input }) }
  editMessage (conversationId: string, messageId: string, content: string): Promise<Message> {
    return this.request('PATCH', `/v1/conversations/${conversationId}/messages/${messageId}`, { body: { content } })
  }

  /** Reacts with one emoji or a :shortcode: (idempotent). */
  addReaction (conversationId: string, messageId: string, emoji: string): Promise<void> {
    return this.request('PUT', `/v1/conversations/${conversationId}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`)
  }

  /** Takes my reaction back (idempotent). */
  removeReaction (conversationId: string, messageId: string, emoji: string): Promise<void> {
    return this.request('DELETE', `/v1/conversations/${conversationId}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`)
  }

  /** Pins a message (idempotent; in groups, owners and admins). */
  pin (conversationId: string, messageId: string): Promise<void> {
    return this.request('PUT', `/v1/conversations/${conversationId}/pins/${messageId}`)
  }

  unpin (conversationId: string, messageId: string): Promise<void> {
    return this.request('DELETE', `/v1/conversations/${conversationId}/pins/${messageId}`)
  }

  /** The conversation's pinned messages, the newest pin first. */
  pins (conversationId: string): Promise<{ items: Message[] }> {
    return this.request('GET', `/v1/conversations/${conversationId}/pins`)
  }

  deleteMessage (conversationId: string, messageId: string): Promise<void> { return this.request('DELETE', `/v1/conversations/${conversationId}/messages/${messageId}`) }
  markRead (conversationId: string, seq: number): Promise<void> { return this.request('POST', `/v1/conversations/${conversationId}/read`, { body: { seq } }) }

  // Webhooks

  createWebhook (conversationId: string, name: string): Promise<CreatedWebhook> { return this.request('POST', `/v1/conversations/${conversationId}/webhooks`, { body: { name } }) }
  async webhooks (conversationId: string): Promise<Webhook[]> {
    return (await this.request<{ items: Webhook[] }>('GET', `/v1/conversations/${conversationId}/webhooks`)).items
  }

  deleteWebhook (conversationId: string, webhookId: string): Promise<void> { return this.request('DELETE', `/v1/conversations/${conversationId}/webhooks/${webhookId}`) }

  /** Posts through an incoming webhook as its bot, with the webhook's id and token alone (no session needed). */
  postToWebhook (webhookId: string, token: string, input: SendMessageInput): Promise<Message> {
    return this.request('POST', `/v1/webhooks/${webhookId}/${token}`, { body: input, auth: false })
  }

  // Bots

  /** A bot I own: a user of kind bot, with its API key (shown this once): `new ChatClient({ baseUrl, apiKey })` then acts as it. */
  createBot (input: { username: string, name?: string }): Promise<Bot & { apiKey: string }> { return this.request('POST', '/v1/bots', { body: input }) }
  async bots (): Promise<Bot[]> { return (await this.request<{ items: Bot[] }>('GET', '/v1/bots')).items }
  /** Its key is refused from now on, on every node, and its sockets close. */
  revokeBot (botId: string): Promise<void> { return this.request('DELETE', `/v1/bots/${botId}`) }
}

export interface Bot { bot: PublicUser, ownerId: string, createdAt: string, revoked: boolean }

export type EventType = typeof EVENT_TYPES[number]
export interface EventEndpoint { id: string, url: string, events: EventType[], description?: string, createdAt: string }
export type Delivery = DeliveryView

/**
 * The admin API (ADMIN_API_TOKEN): where outgoing events go, and what became
 * of them. A receiver verifies each POST with the endpoint's secret and the
 * `standardwebhooks` library (see the README).
 */
export class AdminClient {
  private readonly fetchImpl: typeof fetch
  constructor (private readonly options: { baseUrl: string, token: string, fetch?: typeof fetch }) {
    this.fetchImpl = options.fetch ?? ((...args) => fetch(...args))
  }

  private async call<T> (method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetchImpl(`${this.options.baseUrl}/v1/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${this.options.token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) })
    })
    return answerOf<T>(res.status, res.statusText, await res.text(), res.headers.get('retry-after'))
  }

  /** Its `secret` (whsec_…) is answered this once. */
  createEndpoint (input: { url: string, events?: EventType[], description?: string }): Promise<EventEndpoint & { secret: string }> { return this.call('POST', '/event-endpoints', input) }
  async endpoints (): Promise<EventEndpoint[]> { return (await this.call<{ items: EventEndpoint[] }>('GET', '/event-endpoints')).items }
  deleteEndpoint (id: string): Promise<void> { return this.call('DELETE', `/event-endpoints/${id}`) }
  /** Newest first; `cursor` is the last page's nextCursor. */
  deliveries (endpointId: string, opts: { limit?: number, cursor?: string } = {}): Promise<{ items: Delivery[], nextCursor: string | null }> {
    const qs = new URLSearchParams(Object.entries(opts).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)])).toString()
    return this.call('GET', `/event-endpoints/${endpointId}/deliveries${qs === '' ? '' : `?${qs}`}`)
  }

  retry (endpointId: string, deliveryId: string): Promise<Delivery> { return this.call('POST', `/event-endpoints/${endpointId}/deliveries/${deliveryId}/retry`) }
}
