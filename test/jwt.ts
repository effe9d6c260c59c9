import { createHmac } from 'node:crypto'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Hand-made JWTs for the tests that must present expired, forged or unsigned tokens. */
export function makeJwt (payload: Record<string, unknown>, opts: { secret?: string, alg?: string } = {}): string {
  const alg = opts.alg ?? 'HS256'
  const head = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`
  if (alg === 'none') return `${head}.`
  return `${head}.${createHmac('sha256', opts.secret ?? '').update(head).digest('base64url')}`
}
