import { unavailableAs } from '../../domain/errors.js'
import { channels as named } from '../../domain/channels.js'
import { isCluster, type RedisClient } from '../../redis.js'
import { withTimeout } from '../../timeout.js'
import type { Broker, BrokerHandler } from '../port.js'
import { shardedWire } from './sharded.js'
import { classicWire } from './wire.js'

export interface RedisBrokerOptions {
  /**
   * The command connection (one Redis, or a cluster); the broker opens its
   * subscriber connections itself and leaves this one to its owner to close.
   */
  client: RedisClient
  nodeId: string
  /** Prepended to every channel, so several deployments (or test files) can share one Redis. */
  prefix: string
  pingTimeoutMs: number
}

/** Where a node that recovered from an outage tells the others (payload `{type: 'recovered'}`). */
const CONTROL_CHANNEL = named.control

/** What travels on a Redis channel: the publishing node, then the payload. */
interface Envelope {
  o: string
  p: unknown
}

export function createRedisBroker (options: RedisBrokerOptions): Broker {
  const { nodeId, prefix, pingTimeoutMs, client } = options
  /** Every channel this node wants, whether or not Redis has it right now. */
  const channels = new Set<string>()
  const handlers = new Set<BrokerHandler>()
  const recoverHandlers = new Set<() => void>()
  /**
   * Set when the link to Redis may have lost something (a subscription was
   * down or moved, a publish failed): the next time every wanted channel is
   * subscribed again, every node is told to let its clients sync.
   */
  let lost = false
  let closed = false

  const deliver = (channel: string, payload: unknown, origin: string) => {
    for (const handler of handlers) handler({ channel, payload, origin })
  }

  const onWire = (wireChannel: string, raw: string) => {
    if (!wireChannel.startsWith(prefix)) return
    let envelope: Envelope
    try {
      envelope = JSON.parse(raw) as Envelope
    } catch {
      return
    }
    // Our own publications were delivered locally in publish().
    if (envelope.o === nodeId) return
    deliver(wireChannel.slice(prefix.length), envelope.p, envelope.o)
  }

  const recovered = () => {
    for (const handler of recoverHandlers) handler()
  }

  const events = { message: onWire, down: () => { lost = true }, up: () => { void recover() } }
  const isClosed = () => closed
  const wire = isCluster(client) ? shardedWire(client, events, isClosed) : classicWire(client, events, isClosed)

  /**
   * After an outage (or on a cluster, after any refresh of the slot map):
   * subscribe every wanted channel again, where it belongs, then tell every
   * node (this one through the control channel's local delivery) that
   * publications may have been missed.
   */
  async function recover () {
    if (closed || !wire.ready) return
    try {
      await wire.resubscribe()
      if (!lost) return
      lost = false
      recovered()
      await wire.publish(prefix + CONTROL_CHANNEL, JSON.stringify({ o: nodeId, p: { type: 'recovered' } } satisfies Envelope))
    } catch {
      lost = true // the next 'ready' (on a cluster, the next refresh of the slot map) tries again
    }
  }
  channels.add(CONTROL_CHANNEL)
  wire.want(prefix + CONTROL_CHANNEL)
  handlers.add(({ channel }) => { if (channel === CONTROL_CHANNEL) recovered() })

  const call = unavailableAs('broker', () => { lost = true })

  return {
    kind: 'redis',
    nodeId,
    async publish (channel, payload) {
      const raw = JSON.stringify({ o: nodeId, p: payload } satisfies Envelope)
      if (channels.has(channel)) deliver(channel, JSON.parse(raw).p, nodeId)
      await call(() => wire.publish(prefix + channel, raw))
    },
    /**
     * Wanted from now on. While Redis is away this resolves at once: the
     * channel is subscribed when the connection is back (see recover), and
     * the node's clients are then told to sync what they missed.
     */
    async subscribe (channel) {
      if (channels.has(channel)) return
      channels.add(channel)
      wire.want(prefix + channel)
      await wire.firstAttempt
      if (!wire.ready || !channels.has(channel)) return
      try {
        await wire.subscribe(prefix + channel)
      } catch {
        lost = true
      }
    },
    async unsubscribe (channel) {
      if (!channels.delete(channel)) return
      await wire.unsubscribe(prefix + channel)
    },
    onMessage (handler) {
      handlers.add(handler)
      return () => handlers.delete(handler)
    },
    onRecover (handler) {
      recoverHandlers.add(handler)
      return () => recoverHandlers.delete(handler)
    },
    async ping () {
      await call(() => withTimeout(client.ping(), pingTimeoutMs))
    },
    async close () {
      closed = true
      handlers.clear()
      recoverHandlers.clear()
      channels.clear()
      wire.close()
    }
  }
}
