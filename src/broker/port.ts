/**
 * The broker port: pub/sub between server nodes, and the presence registry.
 * Adapters: memory (one node, or several nodes in one process sharing a bus)
 * and redis.
 *
 * Delivery rule: a node's own publication reaches its own handlers exactly
 * once, synchronously from publish(), and never again from the wire.
 */
export interface BrokerMessage {
  channel: string
  /** Any JSON value. */
  payload: unknown
  /** The node that published it. */
  origin: string
}

export type BrokerHandler = (message: BrokerMessage) => void

export interface Broker {
  readonly kind: 'memory' | 'redis'
  readonly nodeId: string
  /** Delivers to this node's handlers if it is subscribed to the channel, and to every other subscribed node. */
  publish (channel: string, payload: unknown): Promise<void>
  subscribe (channel: string): Promise<void>
  unsubscribe (channel: string): Promise<void>
  /** Adds a handler for messages on subscribed channels; returns its remover. */
  onMessage (handler: BrokerHandler): () => void
  /**
   * Adds a handler called when the link between nodes is back after an
   * outage in which publications may have been missed (on every node, not
   * only the one that saw the outage); returns its remover. The memory
   * broker never loses its link.
   */
  onRecover (handler: () => void): () => void
  presence: PresenceRegistry
  counters: WindowCounters
  buckets: TokenBuckets
  ping (): Promise<void>
  close (): Promise<void>
}

/**
 * Who is online: per user, a set of connection ids, each with an expiry that
 * a heartbeat refreshes. A node that dies stops refreshing, so its users go
 * offline within the expiry.
 */
export interface PresenceRegistry {
  /** Registers a connection; `firstConnection` is true when the user had none alive. */
  connect (userId: string, connectionId: string, ttlMs: number): Promise<{ firstConnection: boolean }>
  /** Extends a connection's expiry. */
  refresh (userId: string, connectionId: string, ttlMs: number): Promise<void>
  /** Removes a connection; `lastConnection` is true when the user has none alive left. */
  disconnect (userId: string, connectionId: string): Promise<{ lastConnection: boolean }>
  /** The subset of userIds with at least one live connection. */
  online (userIds: readonly string[]): Promise<Set<string>>
}

/** Fixed-window counters shared by every node: the basis of per-user rate limits in services. */
export interface WindowCounters {
  /** Counts one hit on `key`; the window starts with the first hit and lasts `windowMs`. */
  hit (key: string, windowMs: number): Promise<{ count: number, resetInMs: number }>
}

/** Token buckets shared by every node: bursts up to `capacity`, refilled at `perSecond`. */
export interface TokenBuckets {
  /** Takes one token; when none is left, allowed is false and retryInMs says when one will be. */
  take (key: string, capacity: number, perSecond: number): Promise<{ allowed: boolean, retryInMs: number }>
}
