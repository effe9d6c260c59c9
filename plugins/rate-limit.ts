import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { AppError } from '../src/domain/errors.js'
import type { Config } from '../src/config.js'
import { addressKey } from '../src/domain/addresses.js'

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

/**
 * @fastify/rate-limit, counted in Redis when REDIS_URL is set (so every node
 * shares one count) and in process memory otherwise. Refusals are the
 * contract's 429 RATE_LIMITED with Retry-After.
 */
export default fp(async (app) => {
  const limits = app.config.rateLimits
  await app.register(rateLimit, {
    global: false,
    // Fail open while Redis is down: logins keep working, unlimited, rather than all failing.
    ...(app.config.REDIS_URL !== undefined && { redis: app.redis, nameSpace: `${app.redisPrefix}rl:`, skipOnError: true })
  })

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
}, { name: 'rate-limit', dependencies: ['config', 'errors', 'broker'] })
