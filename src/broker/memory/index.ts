import { randomUUID } from 'node:crypto'
import type { Broker, BrokerHandler, BrokerMessage } from '../port.js'

/**
 * What several memory brokers in one process share: their subscriptions.
 * Each broker gets its own bus by default (a single node); tests give two
 * brokers one bus to act as two nodes.
 */
export class MemoryBus {
  readonly nodes = new Set<MemoryNode>()
}

interface MemoryNode {
  nodeId: string
  channels: Set<string>
  deliver (message: BrokerMessage): void
}

export interface MemoryBrokerOptions {
  bus?: MemoryBus
  nodeId?: string
}

export function createMemoryBroker (options: MemoryBrokerOptions = {}): Broker {
  const bus = options.bus ?? new MemoryBus()
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
