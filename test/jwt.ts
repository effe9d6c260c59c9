import { createHmac } from 'node:crypto'
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER } from '../plugins/auth.js'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/**
 * Hand-made JWTs for the tests that must present expired, forged or unsigned
 * tokens: with this server's iss and aud, and a session id, unless the
 * payload says otherwise (`iss: undefined` leaves it out).
 */
export function makeJwt (payload: Record<string, unknown>, opts: { secret?: string, alg?: string } = {}): string {
  const alg = opts.alg ?? 'HS256'
  const head = `${b64({ alg, typ: 'JWT' })}.${b64({ iss: ACCESS_TOKEN_ISSUER, aud: ACCESS_TOKEN_AUDIENCE, sid: 'hand-made-session', ...payload })}`
  if (alg === 'none') return `${head}.`
  return `${head}.${createHmac('sha256', opts.secret ?? '').update(head).digest('base64url')}`
}
