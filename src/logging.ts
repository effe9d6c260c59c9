import type { FastifyServerOptions } from 'fastify'

/**
 * Secrets that can travel in a URL: the websocket's `?token=` and a webhook's
 * path token. Both are masked before a URL reaches a log line.
 */
export function redactUrl (url: string): string {
  return url
    .replace(/([?&](?:token|access_token|refreshToken)=)[^&]*/gi, '$1[redacted]')
    .replace(/^(\/v1\/webhooks\/[^/?]+\/)[^/?]+/, '$1[redacted]')
}

/** pino options: request lines without secrets, and the headers that carry them redacted. */
export function loggerOptions (level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', '*.password', '*.refreshToken', '*.accessToken', '*.passwordHash', '*.token'],
      censor: '[redacted]'
    },
    serializers: {
      req (request: { method: string, url: string, hostname?: string, ip?: string, id?: string }) {
        return { method: request.method, url: redactUrl(request.url), hostname: request.hostname, remoteAddress: request.ip }
      }
    }
  }
}
