import type { RedisClient } from '../redis.js'
import { unavailableAs } from '../domain/errors.js'
import type { Revocations } from './port.js'

export interface RedisRevocationsOptions {
  client: RedisClient
  /** Prepended to every key (deployments, or test files, sharing one Redis). */
  prefix: string
}

/** One key per revoked session, expiring when the session's last access token would have. */
export function createRedisRevocations (options: RedisRevocationsOptions): Revocations {
  const { client } = options
  const key = (sessionId: string) => `${options.prefix}revoked:${sessionId}`
  const call = unavailableAs('revocations')
  return {
    kind: 'redis',
    async revoke (sessionId, ttlMs) {
      await call(() => client.set(key(sessionId), '1', 'PX', Math.max(1, Math.ceil(ttlMs))))
    },
    async isRevoked (sessionId) {
      return await call(() => client.exists(key(sessionId))) === 1
    }
  }
}
