import type { Redis } from 'ioredis'
import { unavailableAs } from '../../domain/errors.js'
import { channels as named } from '../../domain/channels.js'
import { withTimeout } from '../../timeout.js'
import type { Broker, BrokerHandler } from '../port.js'

export interface RedisBrokerOptions {
  /** The command connection; the broker duplicates it for subscribing and leaves this one to its owner to close. */
  client: Redis
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
  // Channels are resubscribed below, on every 'ready', from the set this broker keeps.
  const subscriber = options.client.duplicate({ autoResubscribe: false, enableOfflineQueue: true })
  /** Every channel this node wants, whether or not Redis has it right now. */
  const channels = new Set<string>()
  const handlers = new Set<BrokerHandler>()
  const recoverHandlers = new Set<() => void>()
  /**
   * Set when the link to Redis may have lost something (a subscription was
   * down, a publish failed): the next time both connections are ready again,
   * every node is told to let its clients sync.
   */
  let lost = false
  let closed = false

  const deliver = (channel: string, payload: unknown, origin: string) => {
    for (const handler of handlers) handler({ channel, payload, origin })
  }

  subscriber.on('message', (wireChannel: string, raw: string) => {
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
  })
  // Errors surface through ping() and failed commands; without a listener ioredis would log them unhandled.
  subscriber.on('error', () => {})

  const recovered = () => {
    for (const handler of recoverHandlers) handler()
  }

  /**
   * After an outage: subscribe every wanted channel again, then tell every
   * node (this one through the control channel's local delivery) that
   * publications may have been missed.
   */
  async function recover () {
    if (closed || subscriber.status !== 'ready' || options.client.status !== 'ready') return
    try {
      if (channels.size > 0) await subscriber.subscribe(...[...channels].map((c) => prefix + c))
      if (!lost) return
      lost = false
      recovered()
      await client.publish(prefix + CONTROL_CHANNEL, JSON.stringify({ o: nodeId, p: { type: 'recovered' } } satisfies Envelope))
    } catch {
      lost = true // the next 'ready' tries again
    }
  }
  /** Settles when the subscriber first connects, or first fails to: subscriptions made at start wait for it. */
  const firstAttempt = new Promise<void>((resolve) => {
    subscriber.once('ready', resolve)
    subscriber.once('close', resolve)
  })
  subscriber.on('close', () => { if (!closed) lost = true })
  subscriber.on('ready', () => { void recover() })
  options.client.on('ready', () => { void recover() })
  channels.add(CONTROL_CHANNEL)
  handlers.add(({ channel }) => { if (channel === CONTROL_CHANNEL) recovered() })

  const call = unavailableAs('broker', () => { lost = true })

  return {
    kind: 'redis',
    nodeId,
    async publish (channel, payload) {
      const raw = JSON.stringify({ o: nodeId, p: payload } satisfies Envelope)
      if (channels.has(channel)) deliver(channel, JSON.parse(raw).p, nodeId)
      await call(() => client.publish(prefix + channel, raw))
    },
    /**
     * Wanted from now on. While Redis is away this resolves at once: the
     * channel is subscribed when the connection is back (see recover), and
     * the node's clients are then told to sync what they missed.
     */
    async subscribe (channel) {
      if (channels.has(channel)) return
      channels.add(channel)
      await firstAttempt
      if (subscriber.status !== 'ready') return
      try {
        await subscriber.subscribe(prefix + channel)
      } catch {
        lost = true
      }
    },
    async unsubscribe (channel) {
      if (!channels.delete(channel) || subscriber.status !== 'ready') return
      await subscriber.unsubscribe(prefix + channel).catch(() => {})
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
      subscriber.disconnect()
    }
  }
}
