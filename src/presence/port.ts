/**
 * The presence port: who is online, shared by every node. Adapters: memory
 * (one node, or several nodes in one process sharing a table) and redis.
 *
 * Per user, a set of connection ids, each with an expiry that a heartbeat
 * refreshes. A node that dies stops refreshing, so its users go offline
 * within the expiry. An unreachable backend fails with DependencyUnavailableError.
 */
export interface PresenceRegistry {
  readonly kind: 'memory' | 'redis'
  /** Registers a connection; `firstConnection` is true when the user had none alive. */
  connect (userId: string, connectionId: string, ttlMs: number): Promise<{ firstConnection: boolean }>
  /** Extends a connection's expiry. */
  refresh (userId: string, connectionId: string, ttlMs: number): Promise<void>
  /** Removes a connection; `lastConnection` is true when the user has none alive left. */
  disconnect (userId: string, connectionId: string): Promise<{ lastConnection: boolean }>
  /** The subset of userIds with at least one live connection. */
  online (userIds: readonly string[]): Promise<Set<string>>
}
