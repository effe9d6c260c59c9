import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { DependencyUnavailableError } from '../../domain/errors.js'
import type { Broker, BrokerHandler, PresenceRegistry, TokenBuckets, WindowCounters } from '../port.js'
import { REDIS_SCRIPTS } from './scripts.js'

export interface RedisBrokerOptions {
  /** The command connection; the broker duplicates it for subscribing and leaves this one to its owner to close. */
  client: Redis
  nodeId?: string
  /** Prepended to every channel and key, so several deployments (or test files) can share one Redis. */
  prefix?: string
  pingTimeoutMs?: number
}

/** What travels on a Redis channel: the publishing node, then the payload. */
interface Envelope {
  o: string
  p: unknown
}

type PresenceClient = Redis & {
  chatPresenceConnect (key: string, connectionId: string, ttlMs: number): Promise<number>
  chatPresenceRefresh (key: string, connectionId: string, ttlMs: number): Promise<number>
  chatPresenceDisconnect (key: string, connectionId: string): Promise<number>
  chatPresenceCount (key: string): Promise<number>
  chatCounterHit (key: string, windowMs: number): Promise<[number, number]>
  chatBucketTake (key: string, capacity: number, perSecond: number): Promise<[number, number]>
}

export function createRedisBroker (options: RedisBrokerOptions): Broker {
  const nodeId = options.nodeId ?? randomUUID()
  const prefix = options.prefix ?? 'chat:'
  const pingTimeoutMs = options.pingTimeoutMs ?? 2000
  const client = options.client as PresenceClient
  for (const [name, script] of Object.entries(REDIS_SCRIPTS)) {
    if (!(name in client)) client.defineCommand(name, { numberOfKeys: 1, lua: script })
  }
  const subscriber = options.client.duplicate()
  const channels = new Set<string>()
  const handlers = new Set<BrokerHandler>()

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

  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (err) {
      throw new DependencyUnavailableError('broker', err)
    }
  }

  const presenceKey = (userId: string) => `${prefix}presence:${userId}`

  const presence: PresenceRegistry = {
    async connect (userId, connectionId, ttlMs) {
      const before = await call(() => client.chatPresenceConnect(presenceKey(userId), connectionId, ttlMs))
      return { firstConnection: before === 0 }
    },
    async refresh (userId, connectionId, ttlMs) {
      await call(() => client.chatPresenceRefresh(presenceKey(userId), connectionId, ttlMs))
    },
    async disconnect (userId, connectionId) {
      const after = await call(() => client.chatPresenceDisconnect(presenceKey(userId), connectionId))
      return { lastConnection: after === 0 }
    },
    async online (userIds) {
      const counts = await call(() => Promise.all(userIds.map((id) => client.chatPresenceCount(presenceKey(id)))))
      return new Set(userIds.filter((_, i) => (counts[i] ?? 0) > 0))
    }
  }

  const counters: WindowCounters = {
    async hit (key, windowMs) {
      const [count, resetInMs] = await call(() => client.chatCounterHit(`${prefix}counter:${key}`, windowMs))
      return { count, resetInMs }
    }
  }

  const buckets: TokenBuckets = {
    async take (key, capacity, perSecond) {
      const [allowed, retryInMs] = await call(() => client.chatBucketTake(`${prefix}bucket:${key}`, capacity, perSecond))
      return { allowed: allowed === 1, retryInMs }
    }
  }

  return {
    kind: 'redis',
    nodeId,
    async publish (channel, payload) {
      const raw = JSON.stringify({ o: nodeId, p: payload } satisfies Envelope)
      if (channels.has(channel)) deliver(channel, JSON.parse(raw).p, nodeId)
      await call(() => client.publish(prefix + channel, raw))
    },
    async subscribe (channel) {
      if (channels.has(channel)) return
      channels.add(channel)
      try {
        await call(() => subscriber.subscribe(prefix + channel))
      } catch (err) {
        channels.delete(channel)
        throw err
      }
    },
    async unsubscribe (channel) {
      if (!channels.delete(channel)) return
      await call(() => subscriber.unsubscribe(prefix + channel))
    },
    onMessage (handler) {
      handlers.add(handler)
      return () => handlers.delete(handler)
    },
    presence,
    counters,
    buckets,
    async ping () {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${pingTimeoutMs} ms`)), pingTimeoutMs)
      })
      try {
        const ping = client.ping()
        ping.catch(() => {}) // when the timeout wins, the late failure is already reported
        await call(() => Promise.race([ping, timeout]))
      } finally {
        clearTimeout(timer)
      }
    },
    async close () {
      handlers.clear()
      channels.clear()
      subscriber.disconnect()
    }
  }
}
