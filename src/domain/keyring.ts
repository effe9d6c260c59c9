import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'

/**
 * Encryption at rest: AES-256-GCM with a key ring. A value is stored as
 * `enc1.<keyId>.<nonce>.<ciphertext and tag>` (base64url), so it names the
 * key it needs; the associated data names the document and field it belongs
 * to, so a ciphertext moved elsewhere does not decrypt. Search words and
 * emails are stored as keyed hashes (HMAC-SHA256 with a key derived from
 * each ring key by HKDF), prefixed with the key's id.
 */
export interface RingKey {
  id: string
  key: Buffer
}

export class DecryptError extends Error {
  override name = 'DecryptError'
}

const PREFIX = 'enc1.'
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/

/** `keyId:base64key,...` (commas or newlines), the first one active; each key 32 bytes. Throws naming what is wrong. */
export function parseKeyRing (text: string): RingKey[] {
  const entries = text.split(/[,\n]/).map((e) => e.trim()).filter((e) => e !== '' && !e.startsWith('#'))
  const keys = entries.map((entry) => {
    const at = entry.indexOf(':')
    const id = at < 0 ? '' : entry.slice(0, at)
    if (!KEY_ID.test(id)) throw new Error(`a key ring entry must be keyId:base64key with a keyId of [A-Za-z0-9_-]{1,32} (got ${JSON.stringify(entry.slice(0, 12))}…)`)
    const key = Buffer.from(entry.slice(at + 1), 'base64')
    if (key.length !== 32) throw new Error(`key ${id} is ${key.length} bytes; AES-256 wants 32 (openssl rand -base64 32)`)
    return { id, key }
  })
  if (keys.length === 0) throw new Error('the key ring is empty')
  const ids = new Set(keys.map((k) => k.id))
  if (ids.size !== keys.length) throw new Error('the key ring names a keyId twice')
  return keys
}

export const isEncrypted = (value: string): boolean => value.startsWith(PREFIX)

/** The key id a stored value was encrypted (or hashed) with; undefined for plaintext. */
export function keyIdOf (value: string): string | undefined {
  if (isEncrypted(value)) return value.split('.')[1]
  const m = /^h1\.([A-Za-z0-9_-]+)\./.exec(value)
  return m?.[1]
}

export interface KeyRing {
  readonly active: RingKey
  readonly keys: readonly RingKey[]
  encrypt (plaintext: string, aad: string): string
  /** Plaintext stored before encryption was turned on is answered as it is. Throws DecryptError for a value that does not decrypt (tampered, moved, or under a key the ring lacks). */
  decrypt (stored: string, aad: string): string
  /** Bytes sealed under the active key: nonce, ciphertext, tag. */
  sealBytes (plain: Uint8Array, aad: string): Buffer
  /** The bytes sealBytes made under `keyId`; DecryptError when they do not open. */
  openBytes (keyId: string, sealed: Uint8Array, aad: string): Buffer
  /** The keyed hash of `value` under the active key (`h1.<keyId>.<hmac>`): equal values, equal hashes. */
  hash (purpose: 'word' | 'email', value: string): string
  /** The hashes of `value` under every key of the ring (a lookup matches what was hashed under any). */
  hashes (purpose: 'word' | 'email', value: string): string[]
}

export function createKeyRing (keys: readonly RingKey[]): KeyRing {
  const byId = new Map(keys.map((k) => [k.id, k]))
  const active = keys[0]!
  const derived = new Map<string, Buffer>()
  const hashKey = (k: RingKey, purpose: string) => {
    const name = `${k.id}:${purpose}`
    let key = derived.get(name)
    if (key === undefined) derived.set(name, (key = Buffer.from(hkdfSync('sha256', k.key, Buffer.alloc(0), `chat-backend ${purpose} index`, 32))))
    return key
  }
  const hashWith = (k: RingKey, purpose: string, value: string) => `h1.${k.id}.${createHmac('sha256', hashKey(k, purpose)).update(value).digest('base64url')}`
  return {
    active,
    keys,
    encrypt (plaintext, aad) {
      const nonce = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', active.key, nonce)
      cipher.setAAD(Buffer.from(aad))
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
      return `${PREFIX}${active.id}.${nonce.toString('base64url')}.${body.toString('base64url')}`
    },
    decrypt (stored, aad) {
      if (!isEncrypted(stored)) return stored
      const [, id, nonce, body] = stored.split('.')
      const key = byId.get(id ?? '')
      if (key === undefined) throw new DecryptError(`no key ${JSON.stringify(id)} in the ring`)
      try {
        const raw = Buffer.from(body ?? '', 'base64url')
        if (raw.length < 16) throw new Error('too short')
        const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(nonce ?? '', 'base64url'))
        decipher.setAAD(Buffer.from(aad))
        decipher.setAuthTag(raw.subarray(raw.length - 16))
        return Buffer.concat([decipher.update(raw.subarray(0, raw.length - 16)), decipher.final()]).toString('utf8')
      } catch {
        throw new DecryptError('the value does not decrypt: tampered with, moved from another document, or damaged')
      }
    },
    sealBytes (plain, aad) {
      const nonce = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', active.key, nonce)
      cipher.setAAD(Buffer.from(aad))
      return Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()])
    },
    openBytes (keyId, sealed, aad) {
      const key = byId.get(keyId)
      if (key === undefined) throw new DecryptError(`no key ${JSON.stringify(keyId)} in the ring`)
      try {
        const raw = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
        const decipher = createDecipheriv('aes-256-gcm', key.key, raw.subarray(0, 12))
        decipher.setAAD(Buffer.from(aad))
        decipher.setAuthTag(raw.subarray(raw.length - 16))
        return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()])
      } catch {
        throw new DecryptError('the bytes do not decrypt: tampered with, moved, cut short, or damaged')
      }
    },
    hash: (purpose, value) => hashWith(active, purpose, value),
    hashes: (purpose, value) => keys.map((k) => hashWith(k, purpose, value))
  }
}
