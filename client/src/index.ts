/**
 * The chat SDK: `ChatClient` = typed REST calls (RestClient) + one reliable
 * live connection (LiveClient) sharing one session, whose access token is
 * refreshed with the refresh token on a 401, on a 4401 close, and before a
 * reconnect when it is about to expire.
 */
import { ApiError, RestClient, type Tokens } from './rest.js'
import { LiveClient, type LiveClientOptions, type WebSocketConstructor } from './live.js'

export * from './rest.js'
export * from './live.js'

export interface ChatClientOptions {
  /** The server (or load balancer) base URL; '' in a browser page served by the server. */
  baseUrl: string
  /** More base URLs for the live connection to rotate through (nodes without a balancer); defaults to baseUrl. */
  liveUrls?: string[]
  tokens?: Tokens
  /** A bot's API key instead of a session (POST /v1/bots answers it once). */
  apiKey?: string
  onTokens?: (tokens: Tokens | null) => void
  WebSocket?: WebSocketConstructor
  live?: Partial<Pick<LiveClientOptions, 'minDelayMs' | 'maxDelayMs' | 'ackTimeoutMs' | 'cursors' | 'dedupeWindow' | 'deliveredReceipts' | 'deliveredDelayMs'>>
}

/** Seconds since the epoch at which a JWT expires, or undefined when it cannot be read. */
export function tokenExpiry (token: string): number | undefined {
  try {
    const payload = token.split('.')[1] ?? ''
    const json = typeof atob === 'function'
      ? atob(payload.replace(/-/g, '+').replace(/_/g, '/'))
      : Buffer.from(payload, 'base64url').toString('utf8')
    const exp = (JSON.parse(json) as { exp?: unknown }).exp
    return typeof exp === 'number' ? exp : undefined
  } catch {
    return undefined
  }
}

export class ChatClient {
  readonly rest: RestClient
  readonly live: LiveClient

  constructor (options: ChatClientOptions) {
    this.rest = new RestClient({ baseUrl: options.baseUrl, ...(options.tokens && { tokens: options.tokens }), ...(options.apiKey !== undefined && { apiKey: options.apiKey }), ...(options.onTokens && { onTokens: options.onTokens }) })
    const origin = options.baseUrl !== '' ? options.baseUrl : (globalThis as { location?: { origin: string } }).location?.origin ?? ''
    this.live = new LiveClient({
      ...options.live,
      urls: options.liveUrls ?? [origin],
      ...(options.WebSocket && { WebSocket: options.WebSocket }),
      token: async () => {
        const token = this.rest.accessToken
        if (token === undefined) throw new Error('not logged in')
        // A socket cannot read the HTTP 401 of a refused upgrade: refresh before it would get one.
        const exp = tokenExpiry(token)
        if (exp !== undefined && exp * 1000 - Date.now() < 10_000) await this.rest.refresh()
        return this.rest.accessToken!
      },
      // A 4401 after the session ended (logged out, or its refresh token reused elsewhere): the refresh is
      // refused too, the tokens are cleared (onTokens(null)) and the live connection closes instead of retrying.
      onTokenExpired: () => this.rest.refresh().catch((err: unknown) => {
        if (err instanceof ApiError && err.statusCode === 401) this.live.close()
        throw err
      })
    })
  }

  /** Opens the live connection (after login or register, or with stored tokens); again after disconnect(). */
  connect (): void {
    this.live.start()
  }

  /** Closes the live connection and stops its timers; the session (tokens) stays, connect() opens it again. */
  disconnect (): void {
    this.live.close()
  }

  /** Marks every message up to `seq` of a conversation as read: over the socket when it is open, else over REST. */
  async markRead (conversationId: string, seq: number): Promise<void> {
    if (!this.live.markRead(conversationId, seq)) await this.rest.markRead(conversationId, seq)
  }

  /** Closes the live connection and ends the session on the server. */
  async logout (): Promise<void> {
    this.live.close()
    await this.rest.logout()
  }

  /** Ends everything (the live connection and its timers), so a script can exit; the session stays valid on the server. */
  close (): void {
    this.live.close()
  }
}
