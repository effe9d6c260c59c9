import { AppError } from '../domain/errors.js'
import type { Limiter } from './port.js'

/** Counts a hit of `key`; RATE_LIMITED, with the seconds to wait, when over the limit. */
export async function enforceLimit (limiter: Limiter, key: string): Promise<void> {
  const { allowed, retryInMs } = await limiter.consume(key)
  if (allowed) return
  const { max, windowMs } = limiter.setting
  const retryAfterSeconds = Math.max(1, Math.ceil(retryInMs / 1000))
  throw new AppError('RATE_LIMITED', `rate limit exceeded: at most ${max} in ${Math.round(windowMs / 1000)} s; retry in ${retryAfterSeconds} s`, { retryAfterSeconds })
}
