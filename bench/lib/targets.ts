/**
 * The three kinds of server the harness drives, behind one client shape:
 * ours (REST accounts and conversations, the websocket protocol), the raw
 * `ws` broadcast limit, and the Socket.IO peer. A message carries its send
 * time (the driver's clock) at the head of its content.
 */
import WebSocket from 'ws'
import { io, type Socket } from 'socket.io-client'
import { apiOk } from './workload.js'

export type TargetKind = 'ours' | 'ws' | 'socketio'

export interface BenchUser {
  id: string
  token?: string
}

export interface BenchClient {
  readonly ready: Promise<void>
  send (room: string, id: string, content: string): void
  close (): void
}

export interface ClientHandlers {
  onMessage (room: string, id: string, content: string): void
  onAck (id: string): void
  /** Ours only: a reaction frame, by what it says (message, user, emoji, added or removed). */
  onReaction? (room: string, key: string): void
}

/** Runs `fn` over items, `concurrency` at a time. */
export async function pool<T, R> (items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!, i)
    }
  }))
  return out
}

export interface Target {
  kind: TargetKind
  /** Where clients connect; more than one for several nodes (clients are spread over them by the scenario). */
  urls: string[]
  users (count: number, label: string): Promise<BenchUser[]>
  /** A room (conversation) of these members, created by the first. */
  room (members: BenchUser[], label: string): Promise<string>
  connect (url: string, user: BenchUser, rooms: string[], handlers: ClientHandlers): BenchClient
}

const opened = (socket: WebSocket) => new Promise<void>((resolve, reject) => {
  socket.once('open', () => resolve())
  socket.once('error', reject)
  socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
})

/** What names one reaction event: who reacted with what to which message, added or taken back. */
export const reactionKey = (messageId: string, userId: string, emoji: string, added: boolean) => `${messageId}:${userId}:${emoji}:${added ? '+' : '-'}`

export function ours (urls: string[], runId: string): Target {
  const base = urls[0]!
  return {
    kind: 'ours',
    urls,
    async users (count, label) {
      // Registration hashes with scrypt: a few at a time, as many as the thread pool takes.
      return pool(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
        const name = `b${runId}${label}${i}`
        const s = await apiOk<{ user: { id: string }, accessToken: string }>([base], undefined, 'POST', '/v1/auth/register', { username: name, email: `${name}@bench.test`, password: 'bench password 1' })
        return { id: s.user.id, token: s.accessToken }
      })
    },
    async room (members) {
      const [owner, ...rest] = members
      const body = rest.length === 1 ? { type: 'direct', participantIds: [rest[0]!.id] } : { type: 'group', name: 'bench', participantIds: rest.map((m) => m.id) }
      return (await apiOk<{ id: string }>([base], owner!.token, 'POST', '/v1/conversations', body)).id
    },
    connect (url, user, _rooms, handlers) {
      const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws?token=${user.token}`)
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string, message?: { conversationId: string, clientMessageId: string, content: string }, clientMessageId?: string, conversationId?: string, messageId?: string, userId?: string, emoji?: string, added?: boolean }
        if (frame.type === 'new_message') handlers.onMessage(frame.message!.conversationId, frame.message!.clientMessageId, frame.message!.content)
        else if (frame.type === 'message_sent') handlers.onAck(frame.clientMessageId!)
        else if (frame.type === 'reaction') handlers.onReaction?.(frame.conversationId!, reactionKey(frame.messageId!, frame.userId!, frame.emoji!, frame.added!))
      })
      socket.on('error', () => {})
      // Joined once the server answers a ping: the hub has put the socket in its rooms.
      const ready = opened(socket).then(() => new Promise<void>((resolve) => {
        const onPong = (data: WebSocket.RawData) => { if (String(data).includes('"pong"')) { socket.off('message', onPong); resolve() } }
        socket.on('message', onPong)
        socket.send('{"type":"ping"}')
      }))
      return {
        ready,
        send (room, id, content) { socket.send(JSON.stringify({ type: 'send_message', conversationId: room, content, clientMessageId: id })) },
        close () { socket.terminate() }
      }
    }
  }
}

/** The baselines know no accounts: users and rooms are names. */
function anonymous (): Pick<Target, 'users' | 'room'> {
  let n = 0
  return {
    async users (count) { return Array.from({ length: count }, () => ({ id: `u${n++}` })) },
    async room (_members, label) { return `${label}-${n++}` }
  }
}

export function rawWs (urls: string[]): Target {
  return {
    kind: 'ws',
    urls,
    ...anonymous(),
    connect (url, _user, rooms, handlers) {
      const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/?rooms=${rooms.join(',')}`)
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { ack?: string, room: string, id: string, content: string }
        if (frame.ack !== undefined) handlers.onAck(frame.ack)
        else handlers.onMessage(frame.room, frame.id, frame.content)
      })
      socket.on('error', () => {})
      return {
        ready: opened(socket),
        send (room, id, content) { socket.send(JSON.stringify({ room, id, content })) },
        close () { socket.terminate() }
      }
    }
  }
}

export function socketIo (urls: string[]): Target {
  return {
    kind: 'socketio',
    urls,
    ...anonymous(),
    connect (url, _user, rooms, handlers) {
      const socket: Socket = io(url, { transports: ['websocket'], query: { rooms: rooms.join(',') }, reconnection: false, forceNew: true })
      socket.on('message', (frame: { room: string, id: string, content: string }) => handlers.onMessage(frame.room, frame.id, frame.content))
      return {
        ready: new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject) }),
        send (room, id, content) { socket.emit('send', { room, id, content }, (ackId: string) => handlers.onAck(ackId)) },
        close () { socket.disconnect() }
      }
    }
  }
}
