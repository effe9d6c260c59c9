import { createHash, timingSafeEqual } from 'node:crypto'

/** SHA-256 of a secret: what is stored of tokens and API keys. */
export const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()

/** Compares two secrets in constant time (their SHA-256 digests: equal lengths whatever was sent). */
export const sameSecret = (given: string, expected: string): boolean => timingSafeEqual(sha256(given), sha256(expected))

/** Whether `secret` is the one whose SHA-256 (hex) was stored, in constant time. */
export const matchesHash = (secret: string, hexHash: string): boolean => timingSafeEqual(sha256(secret), Buffer.from(hexHash, 'hex'))
