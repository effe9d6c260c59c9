import { createHash, randomBytes } from 'node:crypto'
import { DuplicateKeyError, conflict, unauthorized, validationError } from '../domain/errors.js'
import { botIdentity, toSelfUser, type SelfUser } from '../domain/users.js'
import type { RefreshTokenRecord, UserRecord } from '../domain/types.js'
import type { Store } from '../store/port.js'
import { newId } from '../store/ids.js'
import { dummyHash, hashPassword, verifyPassword } from './passwords.js'

export interface AuthServiceDeps {
  store: Store
  /** Signs an access token for the user's session (its refresh family) (a JWT in production). */
  signAccessToken (userId: string, sessionId: string): string
  /**
   * A session ended before its access tokens expire (logout, a reused refresh
   * token): revokes them and closes its sockets. Its refresh family is already
   * revoked in the store when this is called.
   */
  onSessionEnded (userId: string, sessionId: string): Promise<void>
  accessTokenTtlSeconds: number
  refreshTokenTtlDays: number
  now?: () => Date
}

export interface Session {
  user: SelfUser
  accessToken: string
  refreshToken: string
  /** seconds until the access token expires */
  expiresIn: number
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

/**
 * Accounts and sessions. Refresh tokens are opaque random strings, stored
 * only as SHA-256 hashes, grouped in families: each refresh rotates the token,
 * and presenting a rotated one again revokes the whole family (a stolen token
 * used after its owner refreshed, or the other way round, ends both).
 */
export function createAuthService (deps: AuthServiceDeps) {
  const { store } = deps
  const now = deps.now ?? (() => new Date())

  async function issue (user: UserRecord, family?: { familyId: string, parentId: string }): Promise<Session> {
    const refreshToken = randomBytes(32).toString('base64url')
    const id = newId()
    const familyId = family?.familyId ?? id
    const createdAt = now()
    await store.refreshTokens.insert({
      id,
      userId: user.id,
      familyId,
      parentId: family?.parentId ?? `root:${id}`,
      tokenHash: sha256(refreshToken),
      createdAt,
      expiresAt: new Date(createdAt.getTime() + deps.refreshTokenTtlDays * 86_400_000)
    })
    return { user: toSelfUser(user), accessToken: deps.signAccessToken(user.id, familyId), refreshToken, expiresIn: deps.accessTokenTtlSeconds }
  }

  /** Revokes the token's family in the store, then its access tokens and sockets. */
  async function endSession (token: RefreshTokenRecord): Promise<void> {
    await store.refreshTokens.revokeFamily(token.familyId, now())
    await deps.onSessionEnded(token.userId, token.familyId)
  }

  /** Ends a family and refuses: the token was used after it had been rotated. */
  async function refuseReuse (token: RefreshTokenRecord): Promise<never> {
    await endSession(token)
    throw unauthorized('the refresh token was already used; every session of its family is revoked')
  }

  return {
    async register (input: { username: string, email: string, password: string }): Promise<Session> {
      const reserved = botIdentity.reservedField(input.username, input.email)
      if (reserved !== undefined) throw validationError(`${reserved} is reserved for webhooks' bots`, { field: reserved })
      let user: UserRecord
      try {
        user = await store.users.create({ username: input.username, email: input.email, passwordHash: await hashPassword(input.password) })
      } catch (err) {
        if (err instanceof DuplicateKeyError) throw conflict(`${err.field} is taken`, { field: err.field })
        throw err
      }
      return issue(user)
    },

    async login (input: { login: string, password: string }): Promise<Session> {
      const user = await store.users.findByLogin(input.login.toLowerCase())
      // Unknown users cost the same scrypt run as a wrong password.
      const ok = await verifyPassword(input.password, user?.passwordHash ?? await dummyHash())
      if (user === null || !ok || user.kind !== 'user') throw unauthorized('wrong login or password')
      return issue(user)
    },

    async refresh (refreshToken: string): Promise<Session> {
      const token = await store.refreshTokens.findByHash(sha256(refreshToken))
      if (token === null || token.revokedAt !== undefined || await store.refreshTokens.isFamilyRevoked(token.familyId)) throw unauthorized('the refresh token is not valid')
      if (token.rotatedAt !== undefined) return refuseReuse(token)
      if (token.expiresAt.getTime() <= now().getTime()) throw unauthorized('the refresh token has expired')
      // Mark first: a crash after this point costs the user a login, never a second live token.
      if (!await store.refreshTokens.markRotated(token.id, now())) return refuseReuse(token)
      const user = await store.users.findById(token.userId)
      if (user === null) throw unauthorized('the refresh token is not valid')
      let session: Session
      try {
        session = await issue(user, { familyId: token.familyId, parentId: token.id })
      } catch (err) {
        // Another request rotated the same token at the same moment (the unique parentId index saw it).
        if (err instanceof DuplicateKeyError && err.field === 'parentId') return refuseReuse(token)
        throw err
      }
      // A reuse of this token detected while we were issuing revoked the family
      // before our new token existed: look again, so the new one cannot escape.
      if (await store.refreshTokens.isFamilyRevoked(token.familyId)) return refuseReuse(token)
      return session
    },

    /**
     * Ends the token's session: its refresh family, its access tokens and its
     * open sockets. Unknown tokens are ignored, so logout never tells whether a token existed.
     */
    async logout (refreshToken: string): Promise<void> {
      const token = await store.refreshTokens.findByHash(sha256(refreshToken))
      if (token !== null) await endSession(token)
    }
  }
}

export type AuthService = ReturnType<typeof createAuthService>
