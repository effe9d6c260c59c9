/**
 * The revocations port: sessions ended before their access tokens expire
 * (logout, a refresh token reused), known to every node at once. Adapters:
 * memory (one node, or several in one process sharing a table) and redis.
 *
 * A revocation is kept for `ttlMs`, the longest an access token of the
 * session can still live; after that the tokens have expired on their own.
 */
export interface Revocations {
  readonly kind: 'memory' | 'redis'
  /** Revokes every access token of the session (its refresh family's id). */
  revoke (sessionId: string, ttlMs: number): Promise<void>
  /** Whether the session was revoked; rejects with DependencyUnavailableError when the backend does not answer. */
  isRevoked (sessionId: string): Promise<boolean>
}
