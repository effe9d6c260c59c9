import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => {
    scryptCb(password, salt, keylen, options, (err, key) => (err === null ? resolve(key) : reject(err)))
  })

/** scrypt (memory-hard: N=2^15, r=8 uses 32 MiB), run on libuv's thread pool so the event loop stays free. */
const PARAMS = { N: 32768, r: 8, p: 1 }
const KEY_LENGTH = 32
const MAX_MEM = 64 * 1024 * 1024

/** `scrypt$N$r$p$salt$key`, salt and key in base64url. */
export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, KEY_LENGTH, { ...PARAMS, maxmem: MAX_MEM })
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

/** Constant-time comparison; false (never a throw) for a malformed hash. */
export async function verifyPassword (password: string, encoded: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = encoded.split('$')
  if (scheme !== 'scrypt' || salt === undefined || key === undefined) return false
  const expected = Buffer.from(key, 'base64url')
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n), r: Number(r), p: Number(p), maxmem: MAX_MEM
  })
  return timingSafeEqual(actual, expected)
}

let dummy: Promise<string> | undefined

/**
 * A hash of a random password, made once. Logins for unknown users verify
 * against it, so they cost the same time as a wrong password for a real user.
 */
export function dummyHash (): Promise<string> {
  dummy ??= hashPassword(randomBytes(16).toString('hex'))
  return dummy
}
