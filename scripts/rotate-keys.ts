/**
 * npm run rotate-keys: re-encrypts under the active key (the first of
 * ENCRYPTION_KEYS) what older keys or no key sealed, in the database the
 * configuration names, and says what is left under each key. Safe to run
 * while the nodes serve, and again after a crash (it finishes what is left).
 * A key may leave the ring once nothing is left under it (upload bytes
 * and thumbnails included: they are sealed again too).
 */
import { loadConfig } from '../src/config.js'
import { createKeyRing } from '../src/domain/keyring.js'
import { createStore } from '../src/store/index.js'
import { rotateKeys } from '../src/store/rotation.js'

const config = loadConfig()
if (config.encryptionKeys === null) {
  console.error('rotate-keys: ENCRYPTION_KEYS (or ENCRYPTION_KEYS_FILE) is not set: nothing to rotate to')
  process.exit(2)
}
const ring = createKeyRing(config.encryptionKeys)
const store = createStore(config)
try {
  await store.init()
  const { collections: report, retired } = await rotateKeys(store, ring, { onBatch: (collection, seen) => console.error(`${collection}: ${seen} looked at`) })
  for (const [collection, r] of Object.entries(report)) {
    const left = Object.entries(r.left).map(([key, n]) => `${key} ${n}`).join(', ') || 'none'
    console.log(`${collection}: ${r.resealed} re-encrypted, ${r.unreadable} would not decrypt; now under ${left}`)
  }
  for (const key of ring.keys.slice(1)) console.log(`key ${key.id}: ${retired.includes(key.id) ? 'nothing left under it: it may leave the ring' : 'still in use: keep it in the ring'}`)
} finally {
  await store.close()
}
