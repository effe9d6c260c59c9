import type { FastifyServerOptions } from 'fastify'

/** Query parameters that carry secrets (compared decoded and case-blind). */
/** Query parameters that are credentials: tokens, and the signature of an attachment link (whoever has it may download). */
const SECRET_PARAMS = new Set(['token', 'access_token', 'accesstoken', 'refresh_token', 'refreshtoken', 'signature'])

const decoded = (raw: string): string => {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '))
  } catch {
    return raw
  }
}

/**
 * Secrets that can travel in a URL: the websocket's `?token=` and a webhook's
 * path token. Both are masked before a URL reaches a log line, judged on the
 * URL as the server reads it (decoded: `?%74oken=` is `?token=`; empty path
 * segments skipped: `/v1/webhooks//id/token` is a webhook's path).
 */
export function redactUrl (url: string): string {
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  const segments = path.split('/')
  const named = segments.map((segment, i) => ({ name: decoded(segment).toLowerCase(), i })).filter((s) => s.name !== '')
  const at = named.findIndex((s, k) => s.name === 'webhooks' && named[k - 1]?.name === 'v1')
  // Everything after /v1/webhooks/<id>/ is the token (and whatever follows it).
  if (at !== -1 && named[at + 2] !== undefined) segments.splice(named[at + 2]!.i, segments.length, '[redacted]')
  if (q === -1) return segments.join('/')
  const query = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=')
    const key = eq === -1 ? pair : pair.slice(0, eq)
    return SECRET_PARAMS.has(decoded(key).trim().toLowerCase()) ? `${key}=[redacted]` : pair
  })
  return `${segments.join('/')}?${query.join('&')}`
}

/**
 * Whether the log is for a person: in development, written to a terminal.
 * Everywhere else (production, a pipe, a file, a log collector) it is JSON.
 */
export const readableLogs = (nodeEnv: string, stream: { isTTY?: boolean } = process.stdout): boolean => nodeEnv === 'development' && stream.isTTY === true

/**
 * pino options: request lines without secrets, and the headers that carry
 * them redacted; `pretty`: through pino-pretty (colours, one line a record,
 * the time of day), the same records redacted alike.
 */
export function loggerOptions (level: string, pretty = false): FastifyServerOptions['logger'] {
  return {
    level,
    ...(pretty && { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }),
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
