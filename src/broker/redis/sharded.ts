/**
 * Sharded pub/sub on a Redis Cluster (SPUBLISH/SSUBSCRIBE, Redis 7). A
 * publication goes to the master that owns its channel's slot and from
 * there only to the connections subscribed to it on that shard: adding
 * shards adds fan-out capacity, where classic pub/sub sends every message
 * to every node of the cluster.
 *
 * This node keeps one subscriber connection per master that owns a channel
 * it wants, and knows where each channel is subscribed. When a master dies
 * (its connection closes), a slot moves (Redis pushes an unsolicited
 * SUNSUBSCRIBE, which ioredis reports as 'moved') or the slot map says a
 * channel's owner changed, the channel is subscribed again at its owner and
 * the broker is told that something may have been missed (down), so its
 * clients sync once every wanted channel is back. Ours rather than ioredis'
 * own sharded subscribers (`shardedSubscribers`), which resubscribe after a
 * failover without saying when, or whether, every channel is back: the
 * no-loss guarantee needs that moment.
 */
import calculateSlot from 'cluster-key-slot'
import { Redis, type Cluster } from 'ioredis'
import type { PubSubWire, WireEvents } from './wire.js'

/** After a subscriber connection to a master failed, how long before another one is tried (the slot map is refreshed meanwhile). */
const RETRY_OWNER_AFTER_MS = 500

export function shardedWire (cluster: Cluster, events: WireEvents, isClosed: () => boolean): PubSubWire {
  /** Subscriber connections by master ("host:port"). */
  const connections = new Map<string, Redis>()
  /** Where each wanted channel is subscribed now (the master's key), if it is. */
  const placed = new Map<string, string>()
  const wanted = new Set<string>()
  const failedAt = new Map<string, number>()

  /** Each wanted channel's slot (a CRC16 of its name), computed once. */
  const slots = new Map<string, number>()
  const ownerOf = (channel: string): string | undefined => {
    let slot = slots.get(channel)
    if (slot === undefined) slots.set(channel, (slot = calculateSlot(channel)))
    return cluster.slots[slot]?.[0]
  }
  /** Subscribed where the slot map says, on a connection that is up: nothing to do. */
  const inPlace = (channel: string): boolean => {
    const at = placed.get(channel)
    return at !== undefined && at === ownerOf(channel) && connections.get(at)?.status === 'ready'
  }

  /** Forgets a connection and what was subscribed on it; true if it held a wanted channel. */
  function drop (owner: string, connection: Redis): boolean {
    if (connections.get(owner) !== connection) return false
    connections.delete(owner)
    connection.removeAllListeners('close')
    connection.disconnect()
    let held = false
    for (const [channel, at] of placed) {
      if (at !== owner) continue
      placed.delete(channel)
      held = true
    }
    return held
  }

  function connectionTo (owner: string): Redis {
    const existing = connections.get(owner)
    if (existing !== undefined) return existing
    const at = owner.lastIndexOf(':')
    const connection = new Redis({
      ...cluster.options.redisOptions,
      host: owner.slice(0, at),
      port: Number(owner.slice(at + 1)),
      // Ours to place again (below), not ioredis' to resubscribe on the same node, which may no longer own the slots.
      autoResubscribe: false,
      retryStrategy: () => null,
      enableOfflineQueue: true,
      lazyConnect: false
    })
    connection.on('smessage', (channel: string, raw: string) => events.message(channel, raw))
    connection.on('error', () => {})
    connection.on('close', () => {
      failedAt.set(owner, Date.now())
      if (drop(owner, connection) && !isClosed()) events.down()
    })
    // A slot of a channel subscribed here moved to another master: place what was here again.
    connection.on('moved', () => {
      if (drop(owner, connection) && !isClosed()) events.down()
      cluster.refreshSlotsCache()
    })
    connections.set(owner, connection)
    return connection
  }

  async function place (channel: string): Promise<void> {
    const owner = ownerOf(channel)
    if (owner === undefined) throw new Error(`no master owns the slot of ${channel}`)
    if (inPlace(channel)) return
    const now = placed.get(channel)
    if (now !== undefined) {
      // Subscribed at a master that no longer owns the slot: publications went elsewhere meanwhile.
      placed.delete(channel)
      events.down()
      void connections.get(now)?.sunsubscribe(channel).catch(() => {})
    }
    if (Date.now() - (failedAt.get(owner) ?? 0) < RETRY_OWNER_AFTER_MS) throw new Error(`the master ${owner} failed a moment ago`)
    const connection = connectionTo(owner)
    await connection.ssubscribe(channel)
    if (connections.get(owner) !== connection) throw new Error(`the connection to ${owner} closed`)
    placed.set(channel, owner)
    if (!wanted.has(channel)) await unplace(channel)
  }

  async function unplace (channel: string): Promise<void> {
    const at = placed.get(channel)
    placed.delete(channel)
    if (at !== undefined) await connections.get(at)?.sunsubscribe(channel).catch(() => {})
  }

  const firstAttempt = new Promise<void>((resolve) => {
    if (cluster.status === 'ready') resolve()
    cluster.once('ready', resolve)
    cluster.once('close', resolve)
    cluster.once('end', resolve)
  })
  cluster.on('ready', () => events.up())
  // Every refresh of the slot map (every few seconds, and after a redirection or a lost node): channels whose owner changed move.
  cluster.on('refresh', () => events.up())

  return {
    firstAttempt,
    get ready () { return cluster.status === 'ready' },
    publish: (channel, raw) => cluster.spublish(channel, raw),
    want (channel) { wanted.add(channel) },
    async subscribe (channel) {
      wanted.add(channel)
      await place(channel)
    },
    async unsubscribe (channel) {
      wanted.delete(channel)
      slots.delete(channel)
      await unplace(channel)
    },
    // After every refresh of the slot map: only what moved, or lost its connection, is placed again.
    async resubscribe () {
      const todo = [...wanted].filter((c) => !inPlace(c))
      const results = await Promise.allSettled(todo.map(place))
      const failed = results.find((r) => r.status === 'rejected')
      if (failed !== undefined) throw failed.reason
    },
    close () {
      for (const [owner, connection] of connections) drop(owner, connection)
    }
  }
}
