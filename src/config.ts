import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import envSchema from 'env-schema'
import { Type, type Static } from '@sinclair/typebox'
import type { RateLimitSetting } from './limits/port.js'
import type { MessageLimits } from './domain/messages.js'
import { parseKeyRing, type RingKey } from './domain/keyring.js'

export type { RateLimitSetting } from './limits/port.js'

/** A rate limit: `max` requests per `window` milliseconds, written as "max/window", e.g. "10/60000". */
const RateLimit = (def: string, description: string) =>
  Type.String({ pattern: '^[0-9]+/[0-9]+$', default: def, description })

/** Every setting the server reads, each from the environment variable of the same name. */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  MONGODB_URL: Type.Optional(Type.String({ pattern: '^mongodb(\\+srv)?://', description: 'unset: the embedded in-memory store' })),
  MONGODB_DB: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_-]+$', default: 'chat', description: 'database name when MONGODB_URL names none' }),
  MONGODB_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
  MONGODB_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120000, default: 5000, description: 'how long an operation waits for a reachable database before it fails with UNAVAILABLE' }),
  MONGODB_WRITE_CONCERN: Type.String({ pattern: '^(majority|[0-9]{1,2})$', default: 'majority', description: 'the write concern of every write: majority (an acknowledged message survives the loss of the primary) or a number of members' }),
  MONGODB_READ_CONCERN: Type.Union([Type.Literal('auto'), Type.Literal('majority'), Type.Literal('local')], { default: 'auto', description: 'the read concern: auto is majority when MONGODB_URL names a replica set (replicaSet= or mongodb+srv://), local on a single server; set majority on a sharded cluster' }),
  MONGODB_SHARD_KEY_AUDIT: Type.Optional(Type.String({ minLength: 1, description: 'a directory: every query or update on messages or memberships without its shard key (conversationId) is written there, for a deployment about to shard (the test run sets it)' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'one Redis shared by the nodes; unset (and no REDIS_CLUSTER_NODES): the in-process broker, single node' })),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: '^(rediss?://[^,\\s]+|[^,:/\\s]+:[0-9]{1,5})(,(rediss?://[^,\\s]+|[^,:/\\s]+:[0-9]{1,5}))*$', description: 'instead of REDIS_URL: seed nodes of a Redis Cluster (7 or later), host:port or redis[s]:// URLs, comma-separated; pub/sub is sharded (SPUBLISH/SSUBSCRIBE)' })),
  DEPENDENCY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 2000, description: 'how long a readiness check (and the broker\'s ping) waits for the store or Redis to answer' }),
  REDIS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', default: 'chat:', description: 'prefix of every Redis key and channel (deployments sharing one Redis)' }),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'HS256 secret, at least 32 characters' })),
  ACCESS_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 10, maximum: 86400, default: 900 }),
  REFRESH_TOKEN_TTL_DAYS: Type.Integer({ minimum: 1, maximum: 365, default: 30 }),
  TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1, description: 'a PEM certificate (chain) file: with TLS_KEY_FILE, the node serves HTTPS and WSS itself; unset: plain HTTP (behind a proxy that terminates TLS)' })),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1, description: 'the PEM private key of TLS_CERT_FILE' })),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+(/[^?#]*[^/?#])?$', description: 'the base URL clients reach the service at (https://chat.example.com): the URLs the server hands out, such as a webhook\'s, are built on it; unset: on the request\'s own address, which behind a proxy a client can choose (refused in production)' })),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, description: 'GET /metrics requires it as a Bearer token (required in production; unset elsewhere: /metrics is open)' })),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' }
  ),
  CORS_ORIGINS: Type.String({ default: '', description: 'comma-separated allowed origins; * for any; empty for none' }),
  TRUST_PROXY: Type.String({
    default: 'false',
    pattern: '^(false|true|[0-9]{1,2}|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$',
    description: 'which X-Forwarded-For entries to believe: false (none), a hop count (1: the one the proxy in front of the node added), or the proxies\' addresses or CIDR ranges, comma-separated; true (every entry, which a client can forge) is refused in production'
  }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 10485760, default: 131072 }),
  WS_MAX_PAYLOAD_BYTES: Type.Integer({ minimum: 1024, maximum: 10485760, default: 65536 }),
  WS_HEARTBEAT_MS: Type.Integer({ minimum: 100, maximum: 300000, default: 25000, description: 'server pings each socket this often; one that has not answered the previous ping is closed' }),
  PRESENCE_TTL_MS: Type.Integer({ minimum: 200, maximum: 600000, default: 60000, description: 'a presence lease lives this long without a heartbeat' }),
  TYPING_TTL_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 5000, description: 'a typing start not renewed within this ends' }),
  RECEIPT_FLUSH_MS: Type.Integer({ minimum: 0, maximum: 10000, default: 100, description: 'receipts are written in batches this often' }),
  SYNC_MAX_PER_CONVERSATION: Type.Integer({ minimum: 1, maximum: 10000, default: 500, description: 'changed messages one sync batch replays per conversation (more: the client syncs again from the cursor it was given)' }),
  SYNC_BATCH_MAX_BYTES: Type.Integer({ minimum: 1024, maximum: 16777216, default: 262144, description: 'JSON text one sync batch replays at most (then sync_complete with hasMore); keep it well below WS_MAX_BUFFERED_BYTES' }),
  SYNC_BATCH_MAX_CONVERSATIONS: Type.Integer({ minimum: 1, maximum: 100000, default: 200, description: 'conversations one sync batch looks at' }),
  SYNC_PENDING_CHANGE_MS: Type.Integer({ minimum: 1000, maximum: 3600000, default: 60000, description: 'how long a change whose version is taken but not yet visible holds sync cursors below it; after that it counts as failed (a node died between the two steps)' }),
  WS_MAX_BUFFERED_BYTES: Type.Integer({ minimum: 1024, maximum: 1073741824, default: 1048576, description: 'a socket whose unsent data grows past this is closed with 1013 (the client stopped reading)' }),
  WS_FRAME_BURST: Type.Integer({ minimum: 1, maximum: 100000, default: 60, description: 'frames a user may send on one node in a burst: at most this many per WS_FRAME_BURST / WS_FRAMES_PER_SECOND seconds' }),
  WS_FRAMES_PER_SECOND: Type.Number({ exclusiveMinimum: 0, maximum: 100000, default: 20, description: 'the sustained frame rate a user may keep up on one node' }),
  WS_CLOSE_GRACE_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 1000, description: 'how long a socket closed as too slow may take to close before it is destroyed' }),
  MEMBERSHIP_CACHE_MAX_ENTRIES: Type.Integer({ minimum: 1, maximum: 10000000, default: 100000, description: '(conversation, user) answers the send path\'s membership cache keeps, least recently used forgotten first' }),
  MEMBERSHIP_CACHE_TTL_MS: Type.Integer({ minimum: 0, maximum: 600000, default: 10000, description: 'how long a node trusts a cached "is a participant" answer on the send path (removals reach every node through the broker at once; this bounds a lost one); 0 turns the cache off' }),
  WS_MAX_CONNECTIONS_PER_IP: Type.Integer({ minimum: 1, maximum: 1000000, default: 500, description: 'open sockets one address may hold on one node; more are refused before the upgrade with 429 (behind a proxy, set TRUST_PROXY)' }),
  MAX_PINS_PER_CONVERSATION: Type.Integer({ minimum: 1, maximum: 10000, default: 50, description: 'pinned messages one conversation may have; one more is refused with 409 CONFLICT' }),
  MAX_GROUPS_PER_USER: Type.Integer({ minimum: 1, maximum: 10000000, default: 1000, description: 'groups one user may have created (those that exist); one more is refused with 409 CONFLICT' }),
  MAX_WEBHOOKS_PER_USER: Type.Integer({ minimum: 1, maximum: 1000000, default: 100, description: 'webhooks one user may have created, in all conversations; one more is refused with 409 CONFLICT' }),
  MAX_WEBHOOKS_PER_CONVERSATION: Type.Integer({ minimum: 1, maximum: 100000, default: 25, description: 'webhooks one conversation may have, whoever created them; one more is refused with 409 CONFLICT' }),
  WS_MAX_PENDING_FRAMES: Type.Integer({ minimum: 1, maximum: 10000, default: 64, description: 'frames one socket may have received and not yet handled; at this many the server stops reading the socket until half are done' }),
  WS_FLOOD_CLOSE_AFTER: Type.Integer({ minimum: 1, maximum: 100000, default: 50, description: 'refused frames in a row after which the socket is closed (1008)' }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, maximum: 120000, default: 10000 }),
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600000, default: 30000, description: 'a request (and a new connection\'s first one) must arrive whole within this' }),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600000, default: 72000, description: 'an idle keep-alive connection is closed after this (above a load balancer\'s own idle timeout)' }),
  MESSAGE_MAX_LENGTH: Type.Integer({ minimum: 1, maximum: 100000, default: 10000, description: 'characters of a message' }),
  MESSAGE_MAX_ATTACHMENTS: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  GROUP_MAX_PARTICIPANTS: Type.Integer({ minimum: 2, maximum: 100000, default: 1000 }),
  RATE_LIMITS: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  RATE_LIMIT_REGISTER_IP: RateLimit('10/3600000', 'registrations per IP'),
  RATE_LIMIT_LOGIN_IP: RateLimit('30/60000', 'logins per IP'),
  RATE_LIMIT_LOGIN_NAME: RateLimit('10/60000', 'logins per login name'),
  RATE_LIMIT_REFRESH_IP: RateLimit('60/60000', 'token refreshes per IP'),
  RATE_LIMIT_SEND_DIRECT: RateLimit('120/60000', 'messages per user into direct conversations'),
  RATE_LIMIT_SEND_GROUP: RateLimit('60/60000', 'messages per user into groups'),
  RATE_LIMIT_WEBHOOK: RateLimit('60/60000', 'messages per webhook'),
  RATE_LIMIT_WEBHOOK_CONVERSATION: RateLimit('120/60000', 'messages into one conversation through all its webhooks together'),
  RATE_LIMIT_CONVERSATION_CREATE: RateLimit('60/3600000', 'conversations a user starts'),
  RATE_LIMIT_PARTICIPANT_CHANGE: RateLimit('120/3600000', 'participant changes a user makes (adds, removals, roles)'),
  RATE_LIMIT_CONVERSATION_UPDATE: RateLimit('60/3600000', 'renames and avatar changes a user makes'),
  RATE_LIMIT_WEBHOOK_CREATE: RateLimit('20/3600000', 'webhooks a user creates'),
  RATE_LIMIT_REACTION: RateLimit('300/60000', 'reactions a user adds or removes'),
  RATE_LIMIT_UPLOAD_CONVERSATION: RateLimit('60/60000', 'uploads into one conversation, by all its participants together'),
  ATTACHMENT_MAX_BYTES: Type.Integer({ minimum: 1, maximum: 5368709120, default: 26214400, description: 'bytes of one upload; more: 413 PAYLOAD_TOO_LARGE, and nothing of it is kept' }),
  ATTACHMENT_QUOTA_BYTES: Type.Integer({ minimum: 1, maximum: 1125899906842624, default: 1073741824, description: 'bytes one user\'s uploads may hold together (deleted ones no longer count); an upload past it: 413' }),
  ATTACHMENT_ORPHAN_TTL_MS: Type.Integer({ minimum: 1000, maximum: 2592000000, default: 86400000, description: 'an upload that no message carries this long after it was made is removed by the sweep' }),
  ATTACHMENT_SWEEP_INTERVAL_MS: Type.Integer({ minimum: 1000, maximum: 86400000, default: 600000, description: 'how often the sweep of abandoned uploads runs (on one node per interval, whichever claims it first); 0 is not allowed' }),
  ATTACHMENT_URL_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 604800, default: 3600, description: 'how long a signed attachment link works (it is rounded up to the next 5 minutes, so a link stays the same for a while)' }),
  ENCRYPTION_KEYS: Type.Optional(Type.String({ minLength: 1, description: 'the key ring of encryption at rest: keyId:base64key pairs (32-byte keys), comma-separated, the first one active; unset (and no ENCRYPTION_KEYS_FILE): nothing is encrypted' })),
  ENCRYPTION_KEYS_FILE: Type.Optional(Type.String({ minLength: 1, description: 'a file holding the key ring instead (one keyId:base64key per line, # comments)' })),
  ADMIN_API_TOKEN: Type.Optional(Type.String({ minLength: 32, description: 'the Bearer token of the admin API (/v1/admin/*: event endpoints and their deliveries); unset: the admin API answers 404' })),
  EVENT_ENDPOINTS_ALLOW_PRIVATE: Type.Union([Type.Literal('true'), Type.Literal('false')], { default: 'false', description: 'true: event endpoints may be on loopback or private addresses (tests, a receiver beside the node); false: such URLs are refused, at creation and when each delivery connects' }),
  EVENT_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 600000, default: 5000, description: 'the delay before the first retry of a delivery; each next one doubles (with a jitter of a fifth either way)' }),
  EVENT_RETRY_MAX_MS: Type.Integer({ minimum: 10, maximum: 86400000, default: 3600000, description: 'the longest delay between two attempts of a delivery' }),
  EVENT_RETRY_FOR_MS: Type.Integer({ minimum: 1000, maximum: 2592000000, default: 172800000, description: 'how long a delivery is retried from its event on before it is failed (at least 24 hours in production)' }),
  EVENT_DELIVERY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120000, default: 10000, description: 'how long one attempt waits for the endpoint\'s answer' }),
  EVENT_MAX_IN_FLIGHT: Type.Integer({ minimum: 1, maximum: 10000, default: 64, description: 'deliveries one node attempts at once, at most' }),
  EVENT_MAX_IN_FLIGHT_PER_ENDPOINT: Type.Integer({ minimum: 1, maximum: 10000, default: 16, description: 'of those, to one endpoint at most: a slow or dead endpoint never takes the slots of the others' }),
  EVENT_LEASE_MS: Type.Integer({ minimum: 1000, maximum: 3600000, default: 30000, description: 'how long a node\'s claim on an event or a delivery holds (at least the delivery timeout plus 2 s): a node that dies holds its claims no longer' }),
  EVENT_POLL_INTERVAL_MS: Type.Integer({ minimum: 10, maximum: 60000, default: 500, description: 'how often a node looks at the outbox for due deliveries when nothing woke it' }),
  EVENT_LOG_RETENTION_MS: Type.Integer({ minimum: 3600000, maximum: 31536000000, default: 604800000, description: 'events and their deliveries (delivered or failed) older than this leave the outbox and the delivery log; pending ones stay' }),
  MAX_BOTS_PER_USER: Type.Integer({ minimum: 1, maximum: 100000, default: 20, description: 'bots one user may own (revoked ones count); one more: 409 CONFLICT' }),
  ATTACHMENT_URL_KEY: Type.Optional(Type.String({ minLength: 32, description: 'the HMAC key of signed attachment links, the same on every node; unset: derived from JWT_SECRET' })),
})

type RawConfig = Static<typeof ConfigSchema>

export type Config = Omit<RawConfig, 'JWT_SECRET'> & {
  JWT_SECRET: string
  /** The key ring of encryption at rest (ENCRYPTION_KEYS or ENCRYPTION_KEYS_FILE), the active key first; null: no encryption. */
  encryptionKeys: RingKey[] | null
  /** The certificate and key the node serves HTTPS and WSS with (TLS_CERT_FILE, TLS_KEY_FILE), read at start; null: plain HTTP. */
  tls: { cert: Buffer, key: Buffer } | null
  /** EVENT_ENDPOINTS_ALLOW_PRIVATE as a boolean. */
  eventEndpointsAllowPrivate: boolean
  /** true when JWT_SECRET was generated for this process (development only). */
  jwtSecretGenerated: boolean
  corsOrigins: string[]
  /** TRUST_PROXY as Fastify takes it: none, all, the first `n` hops (a function), or addresses and ranges. */
  trustProxy: boolean | string | ((address: string, hop: number) => boolean)
  /** MESSAGE_MAX_LENGTH and MESSAGE_MAX_ATTACHMENTS, for the schemas and the send path. */
  messageLimits: MessageLimits
  rateLimits: {
    registerIp: RateLimitSetting
    loginIp: RateLimitSetting
    loginName: RateLimitSetting
    refreshIp: RateLimitSetting
    sendDirect: RateLimitSetting
    sendGroup: RateLimitSetting
    webhook: RateLimitSetting
    webhookConversation: RateLimitSetting
    conversationCreate: RateLimitSetting
    participantChange: RateLimitSetting
    conversationUpdate: RateLimitSetting
    webhookCreate: RateLimitSetting
    reaction: RateLimitSetting
    uploadConversation: RateLimitSetting
  } | null
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Secrets that are long enough but guessable: one character repeated, too few distinct characters, or a known example. */
const KNOWN_EXAMPLES = ['changeme', 'secret', 'password', 'jwt_secret', 'your-secret', 'test-secret']
function weakSecret (secret: string): boolean {
  const lower = secret.toLowerCase()
  return new Set(secret).size < 8 || KNOWN_EXAMPLES.some((e) => lower.replaceAll(/[^a-z_-]/g, '').startsWith(e))
}

/** TRUST_PROXY=n trusts the n proxies nearest the node: their entries of X-Forwarded-For, from the right. */
function trustProxyOf (value: string): Config['trustProxy'] {
  if (value === 'false' || value === 'true') return value === 'true'
  if (/^[0-9]+$/.test(value)) {
    const hops = Number(value)
    return (_address, hop) => hop < hops
  }
  return value
}

/** A file a setting names (a certificate, a key), or a ConfigError naming the setting; never its content. */
function readSecretFile (name: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${name}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

function readRingFile (path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`invalid configuration: ENCRYPTION_KEYS_FILE: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

function parseRateLimit (value: string): RateLimitSetting {
  const [max, windowMs] = value.split('/').map(Number) as [number, number]
  return { max, windowMs }
}

/**
 * Validates the environment against ConfigSchema. Throws ConfigError naming the
 * variable and what is wrong with it.
 */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  let raw: RawConfig
  try {
    // Empty strings mean "unset", as they do in most shells and compose files.
    const data = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
    raw = envSchema<RawConfig>({ schema: ConfigSchema, data, dotenv: false })
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message.replaceAll('env/', '')}`)
  }

  if (raw.NODE_ENV === 'production') {
    if (raw.JWT_SECRET === undefined) {
      throw new ConfigError('invalid configuration: JWT_SECRET must be set when NODE_ENV=production')
    }
    if (raw.RATE_LIMITS === 'off') {
      throw new ConfigError('invalid configuration: RATE_LIMITS=off is refused when NODE_ENV=production')
    }
    if (weakSecret(raw.JWT_SECRET)) {
      throw new ConfigError('invalid configuration: JWT_SECRET is too weak for production (one repeated character, few distinct characters, or a known example): use `openssl rand -base64 48`')
    }
    if (raw.PUBLIC_URL === undefined) {
      throw new ConfigError('invalid configuration: PUBLIC_URL must be set when NODE_ENV=production (the base URL of the URLs the server hands out, such as webhooks\')')
    }
    if (raw.METRICS_TOKEN === undefined) {
      throw new ConfigError('invalid configuration: METRICS_TOKEN must be set when NODE_ENV=production (GET /metrics would be public): use `openssl rand -hex 24`')
    }
    if (raw.EVENT_RETRY_FOR_MS < 86400000) {
      throw new ConfigError('invalid configuration: EVENT_RETRY_FOR_MS under 24 hours is refused when NODE_ENV=production (an endpoint down for a night would lose events)')
    }
    if (raw.TRUST_PROXY === 'true') {
      throw new ConfigError('invalid configuration: TRUST_PROXY=true is refused when NODE_ENV=production (a client could choose its own address): give the hop count (1 behind one proxy) or the proxies\' addresses')
    }
  }

  if ((raw.TLS_CERT_FILE === undefined) !== (raw.TLS_KEY_FILE === undefined)) {
    throw new ConfigError('invalid configuration: set TLS_CERT_FILE and TLS_KEY_FILE together (a certificate and its key), or neither')
  }
  const tls = raw.TLS_CERT_FILE === undefined ? null : { cert: readSecretFile('TLS_CERT_FILE', raw.TLS_CERT_FILE), key: readSecretFile('TLS_KEY_FILE', raw.TLS_KEY_FILE!) }
  if (raw.REDIS_URL !== undefined && raw.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError('invalid configuration: set REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both')
  }
  if (raw.ENCRYPTION_KEYS !== undefined && raw.ENCRYPTION_KEYS_FILE !== undefined) {
    throw new ConfigError('invalid configuration: set ENCRYPTION_KEYS or ENCRYPTION_KEYS_FILE, not both')
  }
  let encryptionKeys: RingKey[] | null = null
  const ringText = raw.ENCRYPTION_KEYS_FILE !== undefined ? readRingFile(raw.ENCRYPTION_KEYS_FILE) : raw.ENCRYPTION_KEYS
  if (ringText !== undefined) {
    try {
      encryptionKeys = parseKeyRing(ringText)
    } catch (err) {
      throw new ConfigError(`invalid configuration: ${raw.ENCRYPTION_KEYS_FILE !== undefined ? 'ENCRYPTION_KEYS_FILE' : 'ENCRYPTION_KEYS'}: ${(err as Error).message}`)
    }
  }

  const rateLimits = raw.RATE_LIMITS === 'off'
    ? null
    : {
        registerIp: parseRateLimit(raw.RATE_LIMIT_REGISTER_IP),
        loginIp: parseRateLimit(raw.RATE_LIMIT_LOGIN_IP),
        loginName: parseRateLimit(raw.RATE_LIMIT_LOGIN_NAME),
        refreshIp: parseRateLimit(raw.RATE_LIMIT_REFRESH_IP),
        sendDirect: parseRateLimit(raw.RATE_LIMIT_SEND_DIRECT),
        sendGroup: parseRateLimit(raw.RATE_LIMIT_SEND_GROUP),
        webhook: parseRateLimit(raw.RATE_LIMIT_WEBHOOK),
        webhookConversation: parseRateLimit(raw.RATE_LIMIT_WEBHOOK_CONVERSATION),
        conversationCreate: parseRateLimit(raw.RATE_LIMIT_CONVERSATION_CREATE),
        participantChange: parseRateLimit(raw.RATE_LIMIT_PARTICIPANT_CHANGE),
        conversationUpdate: parseRateLimit(raw.RATE_LIMIT_CONVERSATION_UPDATE),
        webhookCreate: parseRateLimit(raw.RATE_LIMIT_WEBHOOK_CREATE),
        reaction: parseRateLimit(raw.RATE_LIMIT_REACTION),
        uploadConversation: parseRateLimit(raw.RATE_LIMIT_UPLOAD_CONVERSATION)
      }

  return {
    ...raw,
    JWT_SECRET: raw.JWT_SECRET ?? randomBytes(48).toString('base64url'),
    jwtSecretGenerated: raw.JWT_SECRET === undefined,
    encryptionKeys,
    tls,
    eventEndpointsAllowPrivate: raw.EVENT_ENDPOINTS_ALLOW_PRIVATE === 'true',
    corsOrigins: raw.CORS_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o !== ''),
    trustProxy: trustProxyOf(raw.TRUST_PROXY),
    messageLimits: { maxTextLength: raw.MESSAGE_MAX_LENGTH, maxAttachments: raw.MESSAGE_MAX_ATTACHMENTS },
    rateLimits
  }
}
