import { randomUUID } from 'node:crypto'
import type { Broker, BrokerHandler, BrokerMessage, PresenceRegistry, TokenBuckets, WindowCounters } from '../port.js'

/**
 * What several memory brokers in one process share: subscribers per channel and
 * the presence table. Each broker gets its own bus by default (a single node);
 * tests give two brokers one bus to act as two nodes.
 */
export class MemoryBus {
  readonly nodes = new Set<MemoryNode>()
  /** userId -> connectionId -> expiry (epoch ms) */
  readonly presence = new Map<string, Map<string, number>>()
  /** counter key -> count and window end (epoch ms) */
  readonly counters = new Map<string, { count: number, resetAt: number }>()
  /** bucket key -> tokens left and when they were counted (epoch ms) */
  readonly buckets = new Map<string, { tokens: number, at: number }>()
}

interface MemoryNode {
  nodeId: string
  channels: Set<string>
  deliver (message: BrokerMessage): void
}

export interface MemoryBrokerOptions {
  bus?: MemoryBus
  nodeId?: string
  now?: () => number
}

export function createMemoryBroker (options: MemoryBrokerOptions = {}): Broker {
  const bus = options.bus ?? new MemoryBus()
  const now = options.now ?? Date.now
  const handlers = new Set<BrokerHandler>()
  let closed = false

  const node: MemoryNode = {
    nodeId: options.nodeId ?? randomUUID(),
    channels: new Set(),
    deliver (message) {
      for (const handler of handlers) handler(message)
    }
  }
  bus.nodes.add(node)

  const live = (conns: Map<string, number> | undefined): Map<string, number> | undefined => {
    if (conns === undefined) return undefined
    const t = now()
    for (const [id, expiresAt] of conns) if (expiresAt <= t) conns.delete(id)
    return conns
  }

  const presence: PresenceRegistry = {
    async connect (userId, connectionId, ttlMs) {
      const conns = live(bus.presence.get(userId)) ?? new Map<string, number>()
      const firstConnection = conns.size === 0
      conns.set(connectionId, now() + ttlMs)
      bus.presence.set(userId, conns)
      return { firstConnection }
    },
    async refresh (userId, connectionId, ttlMs) {
      const conns = bus.presence.get(userId) ?? new Map<string, number>()
      conns.set(connectionId, now() + ttlMs)
      bus.presence.set(userId, conns)
    },
    async disconnect (userId, connectionId) {
      const conns = live(bus.presence.get(userId))
      conns?.delete(connectionId)
      if (conns !== undefined && conns.size === 0) bus.presence.delete(userId)
      return { lastConnection: conns === undefined || conns.size === 0 }
    },
    async online (userIds) {
      return new Set(userIds.filter((id) => (live(bus.presence.get(id))?.size ?? 0) > 0))
    }
  }

  const counters: WindowCounters = {
    async hit (key, windowMs) {
      const t = now()
      let c = bus.counters.get(key)
      if (c === undefined || c.resetAt <= t) {
        c = { count: 0, resetAt: t + windowMs }
        bus.counters.set(key, c)
      }
      c.count += 1
      return { count: c.count, resetInMs: c.resetAt - t }
    }
  }

  const buckets: TokenBuckets = {
    async take (key, capacity, perSecond) {
      const t = now()
      const b = bus.buckets.get(key) ?? { tokens: capacity, at: t }
      b.tokens = Math.min(capacity, b.tokens + ((t - b.at) * perSecond) / 1000)
      b.at = t
      bus.buckets.set(key, b)
      if (b.tokens >= 1) {
        b.tokens -= 1
        return { allowed: true, retryInMs: 0 }
      }
      return { allowed: false, retryInMs: Math.ceil(((1 - b.tokens) * 1000) / perSecond) }
    }
  }

  const assertOpen = () => {
    if (closed) throw new Error('memory broker is closed')
  }

  return {
    kind: 'memory',
    nodeId: node.nodeId,
    async publish (channel, payload) {
      assertOpen()
      // A JSON round trip, as on the wire: receivers never share the publisher's object.
      const json = JSON.stringify(payload)
      for (const other of bus.nodes) {
        if (other.channels.has(channel)) other.deliver({ channel, payload: JSON.parse(json), origin: node.nodeId })
      }
    },
    async subscribe (channel) {
      assertOpen()
      node.channels.add(channel)
    },
    async unsubscribe (channel) {
      node.channels.delete(channel)
    },
    onMessage (handler) {
      handlers.add(handler)
      return () => handlers.delete(handler)
    },
    onRecover () {
      return () => {}
    },
    presence,
    counters,
    buckets,
    async ping () {
      assertOpen()
    },
    async close () {
      closed = true
      bus.nodes.delete(node)
      handlers.clear()
    }
  }
}
