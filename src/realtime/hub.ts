import type { Broker, BrokerMessage } from '../broker/port.js'
import { channels, parseChannel } from '../domain/channels.js'
import { isSessionEnded, type LiveEvent } from '../domain/events.js'
import type { PresenceRegistry } from '../presence/port.js'
import { CloseCode } from './close-codes.js'
import type { ServerFrame } from './protocol.js'

/** One client socket, as the hub sees it. */
export interface Connection {
  readonly id: string
  readonly userId: string
  /** The session (refresh family) of the access token that opened it. */
  readonly sessionId?: string
  send (frame: ServerFrame): void
  /**
   * A frame already serialised (fan-out serialises an event once, not once per
   * socket); not counted here: the hub reports a fan-out's frames once
   * (onFramesOut). False when the socket is closed or was dropped as too slow.
   */
  write (text: string): boolean
  close (code: number, reason: string): void
}

export interface HubDeps {
  broker: Broker
  presence: PresenceRegistry
  /** The conversations a user is in (the store's memberships). */
  conversationIdsOf (userId: string): Promise<string[]>
  /** Whether the user is a participant now (the store's membership record). */
  isParticipant (conversationId: string, userId: string): Promise<boolean>
  /** How long a presence lease lives without a heartbeat. */
  presenceTtlMs: number
  /** Called when a user's last connection anywhere goes (to store lastSeen). */
  onOffline?: (userId: string, at: Date) => void
  onError?: (err: unknown, what: string) => void
  /** Called once per new message fanned out on this node, with the time it was stored and how many sockets it was written to. */
  onMessageDelivered?: (sentAt: string, sockets: number) => void
  /** Frames of one type written by a fan-out (conversation events, presence, sync_required). */
  onFramesOut?: (type: string, count: number) => void
  /** Called once per event fanned out on this node, with how many local sockets got it. */
  onFanOut?: (live: LiveEvent, sockets: number) => void
}

const PRESENCE_CHANNEL = channels.presence
const conversationChannel = channels.conversation
const userChannel = channels.user

interface PresenceEvent {
  userId: string
  status: 'online' | 'offline'
  lastSeen?: string
  conversationIds: string[]
}

/**
 * The node-local hub: which sockets are here, which rooms (broker channels)
 * they are in, and delivery of what the broker brings to them. The first
 * local join of a room subscribes this node to its channel; the last leave
 * unsubscribes. Every node runs one; the broker joins them.
 */
export function createHub (deps: HubDeps) {
  const { broker, presence } = deps
  const connections = new Map<string, Connection>()
  const rooms = new Map<string, Set<string>>()
  const roomsOf = new Map<string, Set<string>>()
  /** Users announced online somewhere, with their conversations: swept to notice a dead node's users going offline. */
  const knownOnline = new Map<string, string[]>()
  /**
   * Connections whose presence lease exists. The heartbeat refreshes only
   * these: refreshing a socket still joining would create its lease before
   * connect() and make connect() miss that it was the user's first.
   */
  const leased = new Set<string>()
  /** Connections that finished joining their rooms: the ones the heartbeat keeps leased. */
  const joined = new Set<string>()
  const fail = (what: string) => (err: unknown) => deps.onError?.(err, what)

  async function join (conn: Connection, channel: string) {
    let room = rooms.get(channel)
    if (room === undefined) {
      rooms.set(channel, (room = new Set()))
      room.add(conn.id)
      await broker.subscribe(channel)
    } else {
      room.add(conn.id)
    }
    roomsOf.get(conn.id)?.add(channel)
  }

  async function leave (connId: string, channel: string) {
    roomsOf.get(connId)?.delete(channel)
    const room = rooms.get(channel)
    if (room === undefined || !room.delete(connId) || room.size > 0) return
    rooms.delete(channel)
    await broker.unsubscribe(channel)
  }

  /** The user's room holds exactly their local sockets: no scan of every connection on the node. */
  const localConnectionsOf = (userId: string) =>
    [...rooms.get(userChannel(userId)) ?? []].flatMap((id) => connections.get(id) ?? [])

  function deliverToRoom (channel: string, live: LiveEvent) {
    let text: string | undefined
    let sockets = 0
    for (const connId of rooms.get(channel) ?? []) {
      const conn = connections.get(connId)
      if (conn === undefined || conn.id === live.skipConnection || conn.userId === live.skipUser) continue
      text ??= JSON.stringify(live.event)
      if (conn.write(text)) sockets++
    }
    if (sockets > 0) {
      deps.onFramesOut?.(live.event.type, sockets)
      if (live.event.type === 'new_message') deps.onMessageDelivered?.((live.event.message as { sentAt: string }).sentAt, sockets)
    }
    deps.onFanOut?.(live, sockets)
  }

  /** A user channel: events for one user's devices. conversation_updated also moves them into or out of the conversation. */
  async function deliverToUser (userId: string, live: LiveEvent) {
    const conns = localConnectionsOf(userId)
    for (const conn of conns) if (conn.id !== live.skipConnection) conn.send(live.event as ServerFrame)
    if (live.event.type !== 'conversation_updated') return
    const conversation = live.event.conversation as { id: string, participantIds: string[] }
    const channel = conversationChannel(conversation.id)
    if (!conversation.participantIds.includes(userId)) {
      for (const conn of conns) await leave(conn.id, channel)
      return
    }
    // A socket joins from the membership record, not from the event: an event published before a
    // removal can arrive after it (from another node), and must not put the removed user back in.
    const joining = conns.filter((conn) => roomsOf.get(conn.id)?.has(channel) !== true)
    if (joining.length === 0 || !await deps.isParticipant(conversation.id, userId)) return
    for (const conn of joining) await join(conn, channel)
  }

  function deliverPresence (p: PresenceEvent) {
    if (p.status === 'online') knownOnline.set(p.userId, p.conversationIds)
    else knownOnline.delete(p.userId)
    const text = JSON.stringify({ type: 'presence_update', userId: p.userId, status: p.status, ...(p.lastSeen !== undefined && { lastSeen: p.lastSeen }) })
    const told = new Set<string>()
    for (const cid of p.conversationIds) {
      for (const connId of rooms.get(conversationChannel(cid)) ?? []) {
        const conn = connections.get(connId)
        if (conn === undefined || conn.userId === p.userId || told.has(connId)) continue
        told.add(connId)
        conn.write(text)
      }
    }
    if (told.size > 0) deps.onFramesOut?.('presence_update', told.size)
  }

  /** The session ended (logout, a reused refresh token): its sockets here are closed, as on token expiry. */
  function endSession (userId: string, sessionId: string) {
    for (const conn of localConnectionsOf(userId)) if (conn.sessionId === sessionId) conn.close(CloseCode.TOKEN_EXPIRED, 'the session has ended')
  }

  function onMessage ({ channel, payload }: BrokerMessage) {
    const { kind, id } = parseChannel(channel)
    if (kind === 'presence') return deliverPresence(payload as PresenceEvent)
    if (kind === 'user' && isSessionEnded(payload)) return endSession(id!, payload.sessionEnded)
    const live = payload as LiveEvent
    if (typeof live?.event?.type !== 'string') return
    if (kind === 'conversation') return deliverToRoom(channel, live)
    if (kind === 'user') void deliverToUser(id!, live).catch(fail('room change'))
  }

  /**
   * Takes a presence lease for a joined socket; online for the others when
   * it is the user's first connection anywhere. While the broker is away
   * this fails and the heartbeat tries again (see refreshPresence).
   */
  async function lease (conn: Connection, conversationIds?: string[]) {
    const { firstConnection } = await presence.connect(conn.userId, conn.id, deps.presenceTtlMs)
    if (!connections.has(conn.id)) return
    leased.add(conn.id)
    if (firstConnection) {
      const ids = conversationIds ?? await deps.conversationIdsOf(conn.userId)
      await broker.publish(PRESENCE_CHANNEL, { userId: conn.userId, status: 'online', conversationIds: ids } satisfies PresenceEvent)
    }
  }

  /**
   * The broker is back after an outage: leases are taken again (Redis may
   * have restarted empty), and every local socket is told to sync, since
   * events published meanwhile on other nodes did not reach this one.
   */
  function recover () {
    leased.clear()
    const frame = JSON.stringify({ type: 'sync_required', reason: 'broker_recovered' })
    for (const conn of connections.values()) conn.write(frame)
    deps.onFramesOut?.('sync_required', connections.size)
    for (const id of joined) {
      const conn = connections.get(id)
      if (conn !== undefined) void lease(conn).catch(fail('presence after recovery'))
    }
  }

  const removeListener = broker.onMessage(onMessage)
  const removeRecover = broker.onRecover(recover)
  const ready = broker.subscribe(PRESENCE_CHANNEL)

  return {
    /**
     * Registers a socket: its user's rooms, and presence (online when it is
     * the user's first connection anywhere). Fails only when the store cannot
     * say which conversations the user is in; without the broker the socket
     * still joins and gets what this node delivers.
     */
    async add (conn: Connection): Promise<void> {
      await ready
      connections.set(conn.id, conn)
      roomsOf.set(conn.id, new Set())
      const conversationIds = await deps.conversationIdsOf(conn.userId)
      await join(conn, userChannel(conn.userId))
      for (const id of conversationIds) await join(conn, conversationChannel(id))
      if (!connections.has(conn.id)) return
      joined.add(conn.id)
      await lease(conn, conversationIds).catch(fail('presence'))
    },

    /** Unregisters a socket; offline when it was the user's last connection anywhere. */
    async remove (conn: Connection): Promise<void> {
      if (!connections.delete(conn.id)) return
      joined.delete(conn.id)
      leased.delete(conn.id)
      for (const channel of [...roomsOf.get(conn.id) ?? []]) await leave(conn.id, channel)
      roomsOf.delete(conn.id)
      const { lastConnection } = await presence.disconnect(conn.userId, conn.id)
      if (lastConnection) {
        const at = new Date()
        deps.onOffline?.(conn.userId, at)
        const conversationIds = await deps.conversationIdsOf(conn.userId)
        await broker.publish(PRESENCE_CHANNEL, { userId: conn.userId, status: 'offline', lastSeen: at.toISOString(), conversationIds } satisfies PresenceEvent)
      }
    },

    isIn (conn: Connection, conversationId: string): boolean {
      return roomsOf.get(conn.id)?.has(conversationChannel(conversationId)) ?? false
    },

    /**
     * The heartbeat: refreshes every local lease, and takes the leases that
     * joined sockets could not get while the broker was away.
     */
    async refreshPresence (): Promise<void> {
      await Promise.all([...joined].flatMap((id) => {
        const c = connections.get(id)
        if (c === undefined) return []
        return [leased.has(id) ? presence.refresh(c.userId, c.id, deps.presenceTtlMs) : lease(c)]
      }))
    },

    /**
     * Tells local sockets about users whose leases ran out without an
     * offline event: their node died. Each node tells only its own sockets.
     */
    async sweepPresence (): Promise<void> {
      const users = [...knownOnline.keys()]
      if (users.length === 0) return
      const online = await presence.online(users)
      for (const userId of users) {
        if (online.has(userId)) continue
        const conversationIds = knownOnline.get(userId) ?? []
        deliverPresence({ userId, status: 'offline', conversationIds })
      }
    },

    get size () { return connections.size },
    connections: () => [...connections.values()],

    async close (): Promise<void> {
      removeListener()
      removeRecover()
      for (const conn of [...connections.values()]) await this.remove(conn).catch(fail('remove on close'))
    }
  }
}

export type Hub = ReturnType<typeof createHub>
