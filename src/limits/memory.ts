import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import type { LimitDecision, Limiter, Limits, RateLimitSetting } from './port.js'

/** rate-limiter-flexible counts windows in seconds; the Redis one in whole seconds, so both adapters do. */
export const windowSeconds = (setting: RateLimitSetting): number => Math.max(1, Math.ceil(setting.windowMs / 1000))

/** What a rate-limiter-flexible consume answers: a RateLimiterRes either way, or (rejected) the store's error. */
export async function decide (consumed: Promise<RateLimiterRes>): Promise<LimitDecision> {
  try {
    const res = await consumed
    return { allowed: true, hits: res.consumedPoints, retryInMs: 0 }
  } catch (res) {
    if (res instanceof RateLimiterRes) return { allowed: false, hits: res.consumedPoints, retryInMs: Math.max(0, res.msBeforeNext) }
    throw res
  }
}

/** Counts in this process: the limits of one node (the embedded default), or of nodes in one process sharing the instance. */
export function createMemoryLimits (): Limits {
  const limiters = new Map<string, Limiter>()
  return {
    kind: 'memory',
    limiter (name, setting) {
      const existing = limiters.get(name)
      if (existing !== undefined) return existing
      const counted = new RateLimiterMemory({ keyPrefix: name, points: setting.max, duration: windowSeconds(setting) })
      const limiter: Limiter = { name, setting, consume: (key) => decide(counted.consume(key)) }
      limiters.set(name, limiter)
      return limiter
    }
  }
}
