/**
 * The limits port: rate limits counted for every node at once. Adapters:
 * memory (one node, or several nodes in one process sharing one instance)
 * and redis; both are rate-limiter-flexible's limiters.
 *
 * A limit is a fixed window: at most `max` hits of a key per `windowMs`, the
 * window starting with the key's first hit. A backend that does not answer
 * never opens a limit: the redis adapter then counts on this node alone
 * until it answers again.
 */
export interface RateLimitSetting {
  max: number
  windowMs: number
}

export interface LimitDecision {
  allowed: boolean
  /** The key's hits in this window, this one included. */
  hits: number
  /** When refused: milliseconds until the window ends. */
  retryInMs: number
}

export interface Limiter {
  readonly name: string
  readonly setting: RateLimitSetting
  /** Counts one hit of `key` (a user id, a webhook id) and says whether it is within the limit. */
  consume (key: string): Promise<LimitDecision>
}

export interface Limits {
  readonly kind: 'memory' | 'redis'
  /** The limiter called `name`: its keys are its own; call once per limit, at start. */
  limiter (name: string, setting: RateLimitSetting): Limiter
}
