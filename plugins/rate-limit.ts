import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { AppError } from '../src/domain/errors.js'
import type { Config } from '../src/config.js'
import { addressKey } from '../src/domain/addresses.js'
import type { Limits } from '../src/limits/port.js'

type LimitName = keyof NonNullable<Config['rateLimits']>

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * A hook that enforces the named limit from the config, keyed by `key`
     * (the client IP by default); a no-op when RATE_LIMITS=off.
     */
    limiter (name: LimitName, key?: (request: FastifyRequest) => string | Promise<string>): onRequestAsyncHookHandler
  }
}

type Counted = (err: Error | null, result: { current: number, ttl: number }) => void

/**
 * @fastify/rate-limit's store, counted by the limits port: in Redis when
 * REDIS_URL is set (every node shares one count), per node while Redis does
 * not answer (never open), and in process memory otherwise. One mechanism
 * for every limit, HTTP, services and frames alike.
 */
function limitsStore (limits: Limits) {
  return class LimitsStore {
    incr (key: string, done: Counted, timeWindow: number, max: number): void {
      limits.limiter(`http-${max}-${timeWindow}`, { max, windowMs: timeWindow }).consume(key).then(
        ({ hits, retryInMs }) => done(null, { current: hits, ttl: retryInMs }),
        (err: Error) => done(err, { current: 0, ttl: 0 })
      )
    }

    child (): LimitsStore { return this }
  }
}

/** @fastify/rate-limit on the limits port; refusals are the contract's 429 RATE_LIMITED with Retry-After. */
export default fp(async (app) => {
  const limits = app.config.rateLimits
  // skipOnError stays off: the limits port itself falls back to per-node counting.
  await app.register(rateLimit, { global: false, store: limitsStore(app.limits) })

  // createRateLimit counts without answering, so one route can apply several
  // limits (the plugin's own hook runs only once per request).
  app.decorate('limiter', (name: LimitName, key?: (request: FastifyRequest) => string | Promise<string>) => {
    if (limits === null) return async () => {}
    const { max, windowMs } = limits[name]
    const keys = new WeakMap<FastifyRequest, string>()
    const check = app.createRateLimit({
      max,
      timeWindow: windowMs,
      keyGenerator: (request) => `${name}:${keys.get(request)}`
    })
    const hook: onRequestAsyncHookHandler = async (request, reply) => {
      keys.set(request, key === undefined ? addressKey(request.ip) : await key(request))
      const result = await check(request)
      if (result.isAllowed || !result.isExceeded) return
      reply.header('retry-after', String(result.ttlInSeconds))
      throw new AppError('RATE_LIMITED', `rate limit exceeded: at most ${max} requests in ${Math.round(windowMs / 1000)} s; retry in ${result.ttlInSeconds} s`)
    }
    return hook
  })
}, { name: 'rate-limit', dependencies: ['config', 'errors', 'limits'] })
