/**
 * The broker port: pub/sub between server nodes, and nothing else (presence
 * and rate limits are ports of their own: src/presence, src/limits).
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
  /** Resolves when the backend answers (within the adapter's timeout); rejects with DependencyUnavailableError otherwise. */
  ping (): Promise<void>
  close (): Promise<void>
}

