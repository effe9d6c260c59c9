import { randomBytes } from 'node:crypto'
import { matchesHash, sha256 } from '../domain/secrets.js'
import { conflict, forbidden, notFound, unauthorized, validationError } from '../domain/errors.js'
import { isId } from '../domain/ids.js'
import { botIdentity, toPublicUser, type PublicUser } from '../domain/users.js'
import { DuplicateKeyError } from '../domain/errors.js'
import type { Store } from '../store/port.js'
import { newId } from '../store/ids.js'

/** API keys read `cbk_<bot id>_<secret>`: the id finds the bot, the secret's hash is compared. */
const KEY = /^cbk_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$/
export const isApiKey = (token: string): boolean => token.startsWith('cbk_')
/** The session a bot's sockets belong to: revoking the bot ends it. */
export const botSessionId = (botId: string) => `apikey:${botId}`

/** The email a bot's user record holds, unique by a fresh id (nobody registers one: see botIdentity). */
const botEmail = (unique: string) => `${unique}@bots.invalid`

export interface BotView { bot: PublicUser, ownerId: string, createdAt: string, revoked: boolean }

/**
 * The bot (a user of kind 'bot') an API key belongs to, unless the key is
 * malformed, wrong or revoked (401). Read from the store on every use, so a
 * revoked key is refused at once on every node.
 */
export async function botOfApiKey (store: Store, key: string): Promise<string> {
  const parts = KEY.exec(key)
  if (parts === null) throw unauthorized('the API key is invalid')
  const bot = await store.bots.findById(parts[1]!)
  if (bot === null || !matchesHash(parts[2]!, bot.keyHash)) throw unauthorized('the API key is invalid')
  if (bot.revokedAt !== undefined) throw unauthorized('the API key was revoked')
  return bot.id
}

export interface BotServiceDeps {
  store: Store
  /** At most this many bots (revoked ones included) per owner. */
  maxPerOwner: number
  /** Tell every node: the bot's sockets close. */
  onRevoked: (botId: string) => Promise<void>
  now?: () => Date
}

export function createBotService (deps: BotServiceDeps) {
  const { store } = deps
  const now = deps.now ?? (() => new Date())

  const view = async (bot: { id: string, ownerId: string, createdAt: Date, revokedAt?: Date }): Promise<BotView> => {
    const user = await store.users.findById(bot.id)
    if (user === null) throw notFound('bot')
    return { bot: toPublicUser(user), ownerId: bot.ownerId, createdAt: bot.createdAt.toISOString(), revoked: bot.revokedAt !== undefined }
  }

  return {
    /** A new bot owned by `ownerId`; its API key is answered once and only its hash is kept. */
    async create (ownerId: string, input: { username: string, name?: string }): Promise<BotView & { apiKey: string }> {
      const owner = await store.users.findById(ownerId)
      if (owner === null || owner.kind !== 'user') throw forbidden('a bot may not create bots')
      if (botIdentity.reservedField(input.username, '') !== undefined) throw validationError('usernames starting with wh. are reserved for webhooks', { field: 'username' })
      if ((await store.bots.listByOwner(ownerId)).length >= deps.maxPerOwner) throw conflict(`you have created ${deps.maxPerOwner} bots, the most one user may`)
      let user
      try {
        // It can never log in: its kind is 'bot' and its hash matches no password.
        user = await store.users.create({ username: input.username, email: botEmail(newId()), ...(input.name !== undefined && { displayName: input.name }), passwordHash: '!', kind: 'bot' })
      } catch (err) {
        if (err instanceof DuplicateKeyError) throw conflict('that username is taken', { field: 'username' })
        throw err
      }
      const secret = randomBytes(32).toString('base64url')
      const at = now()
      await store.bots.insert({ id: user.id, ownerId, keyHash: sha256(secret).toString('hex'), createdAt: at })
      return { bot: toPublicUser(user), ownerId, createdAt: at.toISOString(), revoked: false, apiKey: `cbk_${user.id}_${secret}` }
    },

    async list (ownerId: string): Promise<BotView[]> {
      return await Promise.all((await store.bots.listByOwner(ownerId)).map(view))
    },

    /** Its owner revokes it: the key is refused from now on, and its sockets close. */
    async revoke (ownerId: string, botId: string): Promise<void> {
      const bot = isId(botId) ? await store.bots.findById(botId) : null
      if (bot === null) throw notFound('bot')
      if (bot.ownerId !== ownerId) throw forbidden('only its owner may revoke a bot')
      if (!await store.bots.revoke(botId, now())) throw notFound('bot')
      await deps.onRevoked(botId)
    }
  }
}

export type BotService = ReturnType<typeof createBotService>
