import { isIP } from 'node:net'

/** The types of outgoing events (API.md, "Outgoing events, bots"). */
export const EVENT_TYPES = [
  'message.created', 'message.updated', 'message.deleted',
  'conversation.created', 'conversation.updated',
  'member.added', 'member.removed',
  'push.requested'
] as const
export type EventType = typeof EVENT_TYPES[number]

/** An event endpoint: where events are POSTed, signed with its secret. `events` empty: every type. */
export interface EventEndpointRecord {
  id: string
  url: string
  events: EventType[]
  description?: string
  /** `whsec_<base64>`: the Standard Webhooks form; the signing key is its base64 part. */
  secret: string
  createdAt: Date
}

/**
 * An event in the outbox. `key` names the change it tells of (its type, its
 * subject, the version): recording the same change twice (a retried send)
 * keeps one. `body` is what is POSTed, `{id, type, createdAt, data}` as JSON.
 */
export interface OutboxEventRecord {
  id: string
  key: string
  type: EventType
  createdAt: Date
  body: string
  /** `new` until its deliveries (one per endpoint that wants it) are written: then `expanded`. */
  state: 'new' | 'expanded'
  /** A node expands it until then; after that another may. */
  leaseUntil?: Date
}

export type NewOutboxEvent = Pick<OutboxEventRecord, 'key' | 'type'> & { data: Record<string, unknown> }

export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

/** One event to one endpoint, retried until it answers 2xx or `expiresAt` passes. */
export interface DeliveryRecord {
  id: string
  eventId: string
  endpointId: string
  type: EventType
  createdAt: Date
  status: DeliveryStatus
  attempts: number
  nextAttemptAt: Date
  /** Retried until then, then `failed`. */
  expiresAt: Date
  /** A node is attempting it until then (a node that dies holds it no longer). */
  leaseUntil?: Date
  lastAttemptAt?: Date
  lastStatusCode?: number
  lastError?: string
  deliveredAt?: Date
}

/**
 * The delay before attempt number `attempts + 1`: exponential from `baseMs`
 * (attempt 2 after about baseMs), at most `maxMs`, with a jitter of up to a
 * fifth either way so that endpoints coming back are not hit by every retry at once.
 */
export function retryDelay (attempts: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const plain = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1))
  return Math.round(plain * (0.8 + 0.4 * random()))
}

/** Whether an endpoint that wants `events` gets an event of `type`. */
export const wants = (events: readonly EventType[], type: EventType): boolean => events.length === 0 || events.includes(type)

/**
 * Addresses an endpoint may not be reached at (unless private ones are
 * allowed): loopback, private, link-local (cloud metadata), carrier NAT,
 * unique-local, multicast, unspecified, and IPv4 mapped into IPv6 or NAT64 likewise.
 */
export function isPrivateAddress (address: string): boolean {
  const family = isIP(address)
  if (family === 4) {
    const [a = 0, b = 0] = address.split('.').map(Number)
    return a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 192 && b === 0) || (a === 198 && (b === 18 || b === 19)) || a >= 224
  }
  if (family !== 6) return true
  const lower = address.toLowerCase()
  const mapped = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (mapped !== null) return isPrivateAddress(mapped[1]!)
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower)
  if (hex !== null) {
    const n = (parseInt(hex[1]!, 16) << 16) + parseInt(hex[2]!, 16)
    return isPrivateAddress([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'))
  }
  return lower === '::' || lower === '::1' || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower) || lower.startsWith('ff')
}

/** An endpoint URL's problem, if it has one: http(s) only, no credentials, and a host that is not an address refused (names are checked when they resolve). */
export function endpointUrlProblem (raw: string, allowPrivate: boolean): string | undefined {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'is not a URL'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be http or https'
  if (url.username !== '' || url.password !== '') return 'must not carry credentials'
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (!allowPrivate && (host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && isPrivateAddress(host)))) {
    return 'is on a loopback or private address (EVENT_ENDPOINTS_ALLOW_PRIVATE is off)'
  }
  return undefined
}
