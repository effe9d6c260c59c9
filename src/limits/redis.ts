import type { RedisClient } from '../redis.js'
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible'
import type { Limiter, Limits } from './port.js'
import { decide, windowSeconds } from './memory.js'

export interface RedisLimitsOptions {
  client: RedisClient
  /** Prepended to every key (deployments, or test files, sharing one Redis). */
  prefix: string
  /** Called when a hit is counted on this node alone because Redis did not answer. */
  onFallback?: () => void
}

/** rate-limiter-flexible's insurance limiter, which also says when it is used. */
class NodeLocalInsurance extends RateLimiterMemory {
  constructor (options: ConstructorParameters<typeof RateLimiterMemory>[0], private readonly onUse: () => void) {
    super(options)
  }

  override consume (...args: Parameters<RateLimiterMemory['consume']>): ReturnType<RateLimiterMemory['consume']> {
    this.onUse()
    return super.consume(...args)
  }
}

/**
 * Counts in Redis (one script, one round trip per hit), shared by every
 * node. While Redis does not answer, each limiter counts on this node
 * instead (its insurance limiter): a Redis outage loosens a limit to per
 * node for a while, and never opens it.
 */
export function createRedisLimits (options: RedisLimitsOptions): Limits {
  const limiters = new Map<string, Limiter>()
  const onFallback = options.onFallback ?? (() => {})
  return {
    kind: 'redis',
    limiter (name, setting) {
      const existing = limiters.get(name)
      if (existing !== undefined) return existing
      const window = { points: setting.max, duration: windowSeconds(setting) }
      const counted = new RateLimiterRedis({
        ...window,
        storeClient: options.client,
        keyPrefix: `${options.prefix}limit:${name}`,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new NodeLocalInsurance({ ...window, keyPrefix: name }, onFallback)
      })
      const limiter: Limiter = { name, setting, consume: (key) => decide(counted.consume(key)) }
      limiters.set(name, limiter)
      return limiter
    }
  }
}
