import fp from 'fastify-plugin'
import { createStore, type Store } from '../src/store/index.js'
import { timedStore } from '../src/metrics.js'
import { encryptedStore } from '../src/store/encrypted.js'
import { createKeyRing } from '../src/domain/keyring.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

export interface StorePluginOptions {
  /** Use this store instead of the one the config selects (tests share one between two apps). */
  store?: Store
  /** Delay between attempts to create indexes while the database is unreachable. */
  initRetryMs?: number
}

/** The ring lacks keys that sealed something still stored (they were used, and no rotation retired them). */
export class KeysMissingError extends Error {
  override name = 'KeysMissingError'
  constructor (readonly keyIds: string[]) {
    super(`ENCRYPTION_KEYS lacks ${keyIds.join(', ')}, still in use (data is sealed under ${keyIds.length === 1 ? 'it' : 'them'}): put ${keyIds.length === 1 ? 'it' : 'them'} back, or run npm run rotate-keys with ${keyIds.length === 1 ? 'it' : 'them'} in the ring first`)
  }
}

/** How often a node that could not reach its database at start tries to create its indexes again. */
const INIT_RETRY_MS = 2000

/**
 * Decorates `store`. A database that is down at start does not stop the
 * start: the node serves (answering 503 where it needs the store), reports
 * it in /health/ready, and keeps trying to create its indexes until it can.
 */
export default fp<StorePluginOptions>(async (app, opts) => {
  const base = opts.store ?? createStore(app.config)
  const keys = app.config.encryptionKeys
  // Encryption at rest wraps whichever store runs; a value that will not decrypt is logged (never the value) and read as empty.
  const store = keys === null
    ? base
    : encryptedStore(base, createKeyRing(keys), (err, where) => app.log.error({ ...where, err: err.message }, 'a stored value did not decrypt; it reads as empty'))
  if (keys === null && app.config.NODE_ENV === 'production') app.log.warn('ENCRYPTION_KEYS is not set: message content, file names and emails are stored in plaintext')
  if (keys !== null) app.log.info({ activeKey: keys[0]!.id, keys: keys.length }, 'encryption at rest on')
  const retryMs = opts.initRetryMs ?? INIT_RETRY_MS
  let timer: NodeJS.Timeout | undefined
  let closing = false

  /** A ring that lacks a key something is still sealed under refuses the start; the active key is recorded as in use. */
  const checkKeys = async () => {
    if (keys === null) return
    const missing = (await base.encryptionKeys.inUse()).filter((id) => !keys.some((k) => k.id === id))
    if (missing.length > 0) throw new KeysMissingError(missing)
    await base.encryptionKeys.markUsed(keys[0]!.id)
  }

  const init = async (): Promise<void> => {
    try {
      await store.init()
      await checkKeys()
      app.log.info({ store: store.kind }, 'store ready: indexes ensured')
    } catch (err) {
      if (err instanceof KeysMissingError) throw err
      if (closing) return
      app.log.warn({ store: store.kind, err: (err as Error).message }, `store not reachable; retrying in ${retryMs} ms`)
      timer = setTimeout(() => {
        init().catch((e: Error) => app.log.fatal({ err: e.message }, 'the key ring lacks keys still in use: what they sealed reads as unreadable until they are put back'))
      }, retryMs)
    }
  }

  app.decorate('store', timedStore(store, app.metrics))
  await init()
  // Back after an outage: ensure the indexes again (a server that returns empty must not take duplicates).
  const removeRecover = store.onRecover(() => {
    if (closing) return
    app.log.info({ store: store.kind }, 'store reachable again; ensuring indexes')
    clearTimeout(timer)
    init().catch((e: Error) => app.log.fatal({ err: e.message }, 'the key ring lacks keys still in use'))
  })
  app.addHook('onClose', async () => {
    closing = true
    removeRecover()
    clearTimeout(timer)
    if (opts.store === undefined) await store.close()
  })
}, { name: 'store', dependencies: ['config', 'metrics'] })
