import type { RedisClient } from '../redis.js'
import { unavailableAs } from '../domain/errors.js'
import type { PresenceRegistry } from './port.js'

export interface RedisPresenceOptions {
  client: RedisClient
  /** Prepended to every key (deployments, or test files, sharing one Redis). */
  prefix: string
}

/**
 * One sorted set per user: member = connection id, score = expiry in ms on
 * the Redis server's clock (so nodes' clocks need not agree). The key itself
 * expires with its last member, so a dead node leaves nothing behind. Each
 * operation is one script: one round trip, atomic.
 */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)`

const EXPIRE_WITH_LAST = `local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end`

const SCRIPTS = {
  // Returns how many live connections the user had before this one.
  chatPresenceConnect: `${NOW}
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
${EXPIRE_WITH_LAST}
return before`,
  chatPresenceRefresh: `${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
${EXPIRE_WITH_LAST}
return 1`,
  // Returns how many live connections are left.
  chatPresenceDisconnect: `${NOW}
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('ZCARD', KEYS[1])`,
  chatPresenceCount: `${NOW}
return redis.call('ZCARD', KEYS[1])`
} as const

type PresenceClient = RedisClient & { [K in keyof typeof SCRIPTS]: (key: string, ...args: Array<string | number>) => Promise<number> }

export function createRedisPresence (options: RedisPresenceOptions): PresenceRegistry {
  const client = options.client as PresenceClient
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (!(name in client)) client.defineCommand(name, { numberOfKeys: 1, lua })
  }
  const key = (userId: string) => `${options.prefix}presence:${userId}`
  const call = unavailableAs('presence')

  return {
    kind: 'redis',
    async connect (userId, connectionId, ttlMs) {
      const before = await call(() => client.chatPresenceConnect(key(userId), connectionId, ttlMs))
      return { firstConnection: before === 0 }
    },
    async refresh (userId, connectionId, ttlMs) {
      await call(() => client.chatPresenceRefresh(key(userId), connectionId, ttlMs))
    },
    async disconnect (userId, connectionId) {
      const after = await call(() => client.chatPresenceDisconnect(key(userId), connectionId))
      return { lastConnection: after === 0 }
    },
    async online (userIds) {
      const counts = await call(() => Promise.all(userIds.map((id) => client.chatPresenceCount(key(id)))))
      return new Set(userIds.filter((_, i) => (counts[i] ?? 0) > 0))
    }
  }
}
