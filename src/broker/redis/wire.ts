/**
 * How the Redis broker reaches pub/sub. On one Redis: PUBLISH/SUBSCRIBE on
 * a second connection. On a Redis Cluster: sharded pub/sub (Redis 7), so a
 * publication goes only to the shard that owns its channel's slot, and this
 * node keeps one subscriber connection per master that owns a channel it
 * wants (src/broker/redis/sharded.ts).
 */
import type { Redis } from 'ioredis'

export interface WireEvents {
  message (wireChannel: string, raw: string): void
  /** Something may have been missed: a subscription was down, or moved. */
  down (): void
  /** A moment to subscribe again what is wanted (a connection is back, the slot map was refreshed). */
  up (): void
}

export interface PubSubWire {
  /** Settles once the first connection attempt has, so that subscriptions made at start wait for it. */
  readonly firstAttempt: Promise<void>
  /** True when subscribing can be tried now. */
  readonly ready: boolean
  publish (wireChannel: string, raw: string): Promise<unknown>
  /** Wanted from now on, subscribed by the next resubscribe (no I/O). */
  want (wireChannel: string): void
  /** Wanted from now on, and subscribed now; rejects when it could not be (it stays wanted: see resubscribe). */
  subscribe (wireChannel: string): Promise<void>
  unsubscribe (wireChannel: string): Promise<void>
  /**
   * Makes sure every wanted channel is subscribed, where it should be (on a
   * cluster, at the master that owns its slot now); rejects when one could not be.
   */
  resubscribe (): Promise<void>
  close (): void
}

/** Classic pub/sub on one Redis: the command connection publishes, a duplicate subscribes. */
export function classicWire (client: Redis, events: WireEvents, isClosed: () => boolean): PubSubWire {
  // Channels are subscribed again on every 'ready' (the broker's resubscribe), from this set.
  const wanted = new Set<string>()
  const subscriber = client.duplicate({ autoResubscribe: false, enableOfflineQueue: true })
  subscriber.on('message', (channel: string, raw: string) => events.message(channel, raw))
  // Errors surface through ping() and failed commands; without a listener ioredis would log them unhandled.
  subscriber.on('error', () => {})
  const firstAttempt = new Promise<void>((resolve) => {
    subscriber.once('ready', resolve)
    subscriber.once('close', resolve)
  })
  subscriber.on('close', () => { if (!isClosed()) events.down() })
  subscriber.on('ready', () => events.up())
  client.on('ready', () => events.up())
  return {
    firstAttempt,
    get ready () { return subscriber.status === 'ready' && client.status === 'ready' },
    publish: (channel, raw) => client.publish(channel, raw),
    want (channel) { wanted.add(channel) },
    async subscribe (channel) {
      wanted.add(channel)
      await subscriber.subscribe(channel)
    },
    async unsubscribe (channel) {
      wanted.delete(channel)
      if (subscriber.status === 'ready') await subscriber.unsubscribe(channel).catch(() => {})
    },
    async resubscribe () {
      if (wanted.size > 0) await subscriber.subscribe(...wanted)
    },
    close () { subscriber.disconnect() }
  }
}
