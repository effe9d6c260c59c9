import type { Store } from '../port.js'
import { createMemoryUserRepository } from './users.js'
import { createMemoryRefreshTokenRepository } from './refresh-tokens.js'

/**
 * The embedded store: real, in-process, and not durable. Everything is lost
 * when the process exits; it honours the same unique rules as the mongo adapter.
 */
export function createMemoryStore (): Store {
  let closed = false
  return {
    kind: 'memory',
    async init () {},
    async ping () {
      if (closed) throw new Error('memory store is closed')
    },
    async close () {
      closed = true
    },
    users: createMemoryUserRepository(),
    refreshTokens: createMemoryRefreshTokenRepository()
  }
}
