import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { AppError } from '../src/domain/errors.js'
import type { Config } from '../src/config.js'

type LimitName = keyof NonNullable<Config['rateLimits']>

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * A hook that enforces the named limit from the config, keyed by `key`
     * (the client IP by default); a no-op when RATE_LIMITS=off.
     */
    limiter (name: LimitName, key?: (request: FastifyRequest) => string): onRequestAsyncHookHandler
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
    ...(app.config.REDIS_URL !== undefined && { redis: app.redis, nameSpace: `${app.redisPrefix}rl:`, skipOnError: true }),
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', `rate limit exceeded: at most ${context.max} requests in ${context.after}; retry in ${Math.ceil(context.ttl / 1000)} s`)
  })

  app.decorate('limiter', (name: LimitName, key?: (request: FastifyRequest) => string) => {
    if (limits === null) return async () => {}
    const { max, windowMs } = limits[name]
    const hook = app.rateLimit({
      max,
      timeWindow: windowMs,
      keyGenerator: (request) => `${name}:${key === undefined ? request.ip : key(request)}`
    })
    return hook as onRequestAsyncHookHandler
  })
}, { name: 'rate-limit', dependencies: ['config', 'errors', 'broker'] })
