import type { NewRefreshToken, NewUser, RefreshTokenRecord, UserPatch, UserRecord } from '../domain/types.js'

/**
 * The persistence port. Adapters: memory (embedded default) and mongo.
 * Unique-index violations surface as DuplicateKeyError, an unreachable
 * server as DependencyUnavailableError; nothing above this port knows which adapter runs.
 */
export interface Store {
  readonly kind: 'memory' | 'mongo'
  /** Creates indexes; safe to call again. */
  init (): Promise<void>
  /** Resolves when the backing server answers; rejects with the reason otherwise. */
  ping (): Promise<void>
  close (): Promise<void>
  users: UserRepository
  refreshTokens: RefreshTokenRepository
}

export interface UserRepository {
  /** Throws DuplicateKeyError('username' | 'email'). */
  create (user: NewUser): Promise<UserRecord>
  findById (id: string): Promise<UserRecord | null>
  findByIds (ids: readonly string[]): Promise<UserRecord[]>
  /** By lower-cased username or email. */
  findByLogin (loginLower: string): Promise<UserRecord | null>
  /** Users whose lower-cased username starts with `prefixLower`, by username, at most `limit`. */
  searchByUsernamePrefix (prefixLower: string, limit: number): Promise<UserRecord[]>
  update (id: string, patch: UserPatch): Promise<UserRecord | null>
  touchLastSeen (id: string, at: Date): Promise<void>
}

export interface RefreshTokenRepository {
  /** Throws DuplicateKeyError('parentId') when the parent was already rotated into another token. */
  insert (token: NewRefreshToken): Promise<RefreshTokenRecord>
  findByHash (tokenHash: string): Promise<RefreshTokenRecord | null>
  /** Marks the token rotated if it is neither rotated nor revoked; false when it was. */
  markRotated (id: string, at: Date): Promise<boolean>
  revokeFamily (familyId: string, at: Date): Promise<void>
}
