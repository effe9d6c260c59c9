/**
 * The reliable live client: one websocket to whichever server node answers,
 * with everything the API's guarantees ask of a client.
 *
 * - Reconnects with exponential backoff and full jitter, rotating through the
 *   node URLs it was given (what a load balancer does for a browser).
 * - Every send carries a clientMessageId; sends that have no `message_sent`
 *   yet are resent with the same id after each reconnect, after an
 *   UNAVAILABLE / RATE_LIMITED / INTERNAL_ERROR answer, and when no answer
 *   comes in time. The server answers a resend with the first message, so a
 *   send is stored once however often it is resent.
 * - Keeps the cursor the server gave per conversation (the highest version
 *   all of whose changes it holds) and sends `sync` with the cursors on every
 *   (re)connect and whenever the server asks (`sync_required`), again while
 *   the server says there is more; edits, deletions and conversation changes
 *   made while away arrive as they do live.
 * - Hands over each change of a message once: a frame whose version it has
 *   already handed over for that message is dropped.
 *
 * It runs on any WebSocket with the browser API: the browser's own, or the
 * `ws` package's default export in Node 20.
 */

import type { Static } from '@sinclair/typebox'
import { CloseCode } from '../../src/realtime/close-codes.js'
import type { ServerFrames } from '../../src/realtime/protocol.js'
import type { Message, SendMessageInput } from './rest.js'

/**
 * The subset of the browser WebSocket this client uses. The browser's own and
 * the `ws` package's default export both fit as they are (the handlers take
 * `never`, so any event type a WebSocket declares is accepted).
 */
export interface WebSocketLike {
  readonly readyState: number
  send (data: string): void
  close (code?: number, reason?: string): void
  onopen: ((ev: never) => void) | null
  onmessage: ((ev: never) => void) | null
  onclose: ((ev: never) => void) | null
  onerror: ((ev: never) => void) | null
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

type Frames = { [K in keyof typeof ServerFrames]: Static<typeof ServerFrames[K]> }
/** A frame from the server, typed from the protocol's own schemas (the AsyncAPI document's): narrow it on `type`. */
export type ServerFrame = Frames[keyof Frames]
/** A frame's fields, without its type. */
export type FrameBody<K extends keyof Frames> = Omit<Frames[K], 'type'>

/** A message as the server sends it (the Message schema of the OpenAPI document). */
export type LiveMessage = Message
export type SendAck = FrameBody<'message_sent'>

/**
 * connecting: the first connection is being opened; open: connected and
 * live; reconnecting: the connection was lost and is being opened again;
 * suspended: dropped on purpose by suspend(), waiting for resume(); closed:
 * close() was called (or start() never was).
 */
export type LiveState = 'connecting' | 'open' | 'reconnecting' | 'suspended' | 'closed'

export interface LiveClientOptions {
  /** Server base URLs (http(s) or ws(s)); each reconnect tries the next. */
  urls: string[]
  /** The access token for the next connection. */
  token: () => string | Promise<string>
  /** Defaults to the global WebSocket (browsers, Node 22+). */
  WebSocket?: WebSocketConstructor
  /** Known conversations and their cursors (the last sync's, or the highest seq held). Others are learnt from syncs. */
  cursors?: Record<string, number>
  /** First reconnect delay; doubled per failed attempt up to maxDelayMs, with full jitter. */
  minDelayMs?: number
  maxDelayMs?: number
  /** An unanswered send is resent after this long on an open socket. */
  ackTimeoutMs?: number
  /** Called when the server closes with 4401 (token expired), before reconnecting. */
  onTokenExpired?: () => Promise<void> | void
  /** How many messages' versions to remember for dropping repeats. */
  dedupeWindow?: number
  /**
   * Tell the server which messages reached this device (`delivered`
   * receipts, the ✓✓ others see): on by default, at most one frame per
   * conversation every `deliveredDelayMs`.
   */
  deliveredReceipts?: boolean
  deliveredDelayMs?: number
}

/** Errors after which resending the same frame may succeed. */
const RETRYABLE = new Set(['UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL_ERROR'])
const OPEN = 1

/** A send the server refused for good (validation, not a participant, unknown conversation). */
export class SendError extends Error {
  constructor (readonly code: string, message: string, readonly clientMessageId: string) {
    super(message)
    this.name = 'SendError'
  }
}

interface Pending {
  frame: { type: 'send_message', conversationId: string, content: string, clientMessageId: string, contentType?: string, attachments?: SendMessageInput['attachments'], replyTo?: string, threadId?: string }
  resolve (ack: SendAck): void
  reject (err: Error): void
  /** When it was last written to a socket (0: not on the current one). */
  writtenAt: number
  attempts: number
}

type Listener<T> = (value: T) => void

export type TypingEvent = FrameBody<'typing'>
export type ReceiptEvent = FrameBody<'receipt'>
export type PresenceEvent = FrameBody<'presence_update'>
export type DeletedEvent = FrameBody<'message_deleted'>
export type ReactionEvent = FrameBody<'reaction'>

export interface LiveClientEvents {
  /** A message, the first time this client hears of it (live or replayed by a sync), in its state then. */
  message: LiveMessage
  /** A message handed over before was edited (or changed otherwise), once per version. */
  updated: LiveMessage
  /** A message became a tombstone. */
  deleted: DeletedEvent
  /**
   * Someone (maybe me, on another device) added or took back a reaction, once
   * per version: apply it to the message as a set (emoji, userId). A sync that
   * brings the message in a later state comes as 'updated' with its reactions.
   */
  reaction: ReactionEvent
  /** I left a conversation or was removed from it (told by a sync): forget it. */
  removed: FrameBody<'conversation_removed'>
  typing: TypingEvent
  receipt: ReceiptEvent
  presence: PresenceEvent
  /** A conversation I am in was created or changed (or I left it: it no longer lists me). */
  conversation: Frames['conversation_updated']['conversation']
  /** Every frame from the server, as it came. */
  frame: ServerFrame
  state: LiveState
  synced: FrameBody<'sync_complete'>
  /** An error frame (a send's errors also settle its promise). */
  error: Frames['error']
}

function randomId (): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  return c?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
}

export class LiveClient {
  private socket: WebSocketLike | undefined
  private urlIndex = 0
  private failures = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private ackTimer: ReturnType<typeof setInterval> | undefined
  private stopped = true
  private suspended = false
  private readonly pending = new Map<string, Pending>()
  /** conversationId → its cursor (from the server's sync_complete). */
  private readonly conversations = new Map<string, number>()
  /**
   * messageId → the highest version handed over, and whether the message
   * itself was (as 'message'): the least recently changed forgotten first.
   */
  private readonly versions = new Map<string, { version: number, shown: boolean }>()
  private readonly listeners = new Map<keyof LiveClientEvents, Set<Listener<never>>>()
  private syncing = false
  private syncAgain = false
  /** conversationId → the highest seq received and not yet reported as delivered. */
  private readonly undelivered = new Map<string, number>()
  private deliveredTimer: ReturnType<typeof setTimeout> | undefined
  private WS: WebSocketConstructor | undefined
  state: LiveState = 'closed'
  readonly stats = { connects: 0, reconnects: 0, resent: 0, duplicatesDropped: 0, syncs: 0 }

  constructor (private readonly options: LiveClientOptions) {
    if (options.urls.length === 0) throw new Error('LiveClient needs at least one server URL')
    for (const [id, cursor] of Object.entries(options.cursors ?? {})) this.conversations.set(id, cursor)
  }

  on<K extends keyof LiveClientEvents> (event: K, listener: Listener<LiveClientEvents[K]>): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) this.listeners.set(event, (set = new Set()))
    set.add(listener)
    return () => { set.delete(listener) }
  }

  private emit<K extends keyof LiveClientEvents> (event: K, value: LiveClientEvents[K]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as Listener<LiveClientEvents[K]>)(value)
  }

  private setState (state: LiveState): void {
    if (this.state === state) return
    this.state = state
    this.emit('state', state)
  }

  /** Opens the connection (and keeps it open until close()). */
  start (): void {
    if (!this.stopped) return
    this.WS = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (this.WS === undefined) throw new Error('no WebSocket implementation: pass options.WebSocket (in Node 20, the ws package)')
    this.stopped = false
    this.ackTimer = setInterval(() => this.resendOverdue(), Math.max(100, Math.floor((this.options.ackTimeoutMs ?? 5000) / 2)))
    void this.open()
  }

  /**
   * Ends everything: the socket, every timer (a Node script can exit), and
   * the pending sends, which are rejected. start() opens it again.
   */
  close (): void {
    this.stopped = true
    this.suspended = false
    clearTimeout(this.timer)
    clearInterval(this.ackTimer)
    clearTimeout(this.deliveredTimer)
    this.deliveredTimer = undefined
    this.socket?.close(CloseCode.NORMAL, 'client closed')
    this.socket = undefined
    for (const [id, p] of this.pending) p.reject(new SendError('CLOSED', 'the client was closed before the server acknowledged', id))
    this.pending.clear()
    this.setState('closed')
  }

  /**
   * Drops the connection and waits (the device went offline); resume()
   * reconnects at once. Pending sends stay pending.
   */
  suspend (): void {
    if (this.stopped) return
    this.suspended = true
    clearTimeout(this.timer)
    const socket = this.socket
    this.socket = undefined
    for (const p of this.pending.values()) p.writtenAt = 0
    socket?.close(CloseCode.NORMAL, 'offline')
    this.setState('suspended')
  }

  resume (): void {
    if (this.stopped || !this.suspended) return
    this.suspended = false
    this.failures = 0
    clearTimeout(this.timer)
    void this.open()
  }

  /** Sends typing; false when there is no open socket. */
  typing (conversationId: string, isTyping: boolean): boolean {
    return this.sendFrame({ type: 'typing', conversationId, isTyping })
  }

  /** Moves my read (or delivered) watermark; false when there is no open socket. */
  receipt (conversationId: string, kind: 'read' | 'delivered', seq: number): boolean {
    return this.sendFrame({ type: kind, conversationId, seq })
  }

  /** Marks every message up to `seq` as read (a read is a delivery too); false when there is no open socket. */
  markRead (conversationId: string, seq: number): boolean {
    return this.receipt(conversationId, 'read', seq)
  }

  /** A message reached this device: reported as delivered soon, with the others of its conversation. */
  private delivered (conversationId: string, seq: number): void {
    if (this.options.deliveredReceipts === false) return
    if (seq <= (this.undelivered.get(conversationId) ?? 0)) return
    this.undelivered.set(conversationId, seq)
    this.deliveredTimer ??= setTimeout(() => this.flushDelivered(), this.options.deliveredDelayMs ?? 250)
  }

  private flushDelivered (): void {
    this.deliveredTimer = undefined
    for (const [conversationId, seq] of this.undelivered) {
      if (!this.receipt(conversationId, 'delivered', seq)) return // no socket: sent after the next connect
      this.undelivered.delete(conversationId)
    }
  }

  /** Starts (or moves forward) the cursor of a conversation: every change up to `version` (or seq) is already held. */
  track (conversationId: string, version: number): void {
    if (version > (this.conversations.get(conversationId) ?? -1)) this.conversations.set(conversationId, version)
  }

  /** The per-conversation cursors a sync would send now (save them to resume after a restart). */
  cursors (): Record<string, number> {
    return Object.fromEntries(this.conversations)
  }

  /** Sends that have no acknowledgement yet. */
  get unacknowledged (): number {
    return this.pending.size
  }

  /**
   * Sends a message; resolves with the server's acknowledgement, however
   * many reconnects that takes. Pass a clientMessageId to make a send
   * idempotent across restarts of the app too.
   */
  send (input: { conversationId: string, content?: string, contentType?: SendMessageInput['contentType'], attachments?: SendMessageInput['attachments'], clientMessageId?: string, replyTo?: string, threadId?: string }): Promise<SendAck> {
    const clientMessageId = input.clientMessageId ?? randomId()
    if (this.pending.has(clientMessageId)) return Promise.reject(new SendError('VALIDATION_ERROR', 'a send with this clientMessageId is already waiting for its ack', clientMessageId))
    return new Promise<SendAck>((resolve, reject) => {
      const p: Pending = {
        frame: { type: 'send_message', conversationId: input.conversationId, content: input.content ?? '', clientMessageId, ...(input.contentType !== undefined && { contentType: input.contentType }), ...(input.attachments !== undefined && { attachments: input.attachments }), ...(input.replyTo !== undefined && { replyTo: input.replyTo }), ...(input.threadId !== undefined && { threadId: input.threadId }) },
        resolve,
        reject,
        writtenAt: 0,
        attempts: 0
      }
      this.pending.set(clientMessageId, p)
      this.write(p)
    })
  }

  /** Writes any frame on the open socket; false when there is none. */
  sendFrame (frame: { type: string, [key: string]: unknown }): boolean {
    if (this.socket?.readyState !== OPEN) return false
    this.socket.send(JSON.stringify(frame))
    return true
  }

  /** Asks the server for everything after the cursors. */
  sync (): void {
    if (this.syncing) { this.syncAgain = true; return }
    const cursors = this.cursors()
    if (!this.sendFrame({ type: 'sync', cursors })) return
    this.syncing = true
    this.stats.syncs++
  }

  private write (p: Pending): void {
    if (this.socket?.readyState !== OPEN) return
    p.attempts++
    if (p.attempts > 1) this.stats.resent++
    p.writtenAt = Date.now()
    this.socket.send(JSON.stringify(p.frame))
  }

  private resendOverdue (): void {
    const limit = this.options.ackTimeoutMs ?? 5000
    const now = Date.now()
    for (const p of this.pending.values()) if (p.writtenAt !== 0 && now - p.writtenAt > limit) this.write(p)
  }

  private async open (): Promise<void> {
    if (this.stopped || this.suspended) return
    this.setState(this.stats.connects === 0 ? 'connecting' : 'reconnecting')
    const base = this.options.urls[this.urlIndex % this.options.urls.length]!
    let token: string
    try {
      token = await this.options.token()
    } catch {
      return this.retry()
    }
    if (this.stopped) return
    const url = new URL('/v1/ws', base.replace(/^http/, 'ws'))
    url.searchParams.set('token', token)
    const socket = new this.WS!(url.toString())
    this.socket = socket
    socket.onopen = () => {
      if (this.socket !== socket) return
      this.failures = 0
      if (this.stats.connects++ > 0) this.stats.reconnects++
      this.setState('open')
      this.syncing = false
      this.sync()
      if (this.undelivered.size > 0) this.flushDelivered()
      for (const p of this.pending.values()) { p.writtenAt = 0; this.write(p) }
    }
    socket.onmessage = (ev: { data: unknown }) => {
      if (this.socket !== socket) return
      let frame: ServerFrame
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame
      } catch {
        return
      }
      this.receive(frame)
    }
    socket.onerror = () => {}
    socket.onclose = (ev: { code: number, reason: string }) => {
      if (this.socket !== socket) return
      this.socket = undefined
      for (const p of this.pending.values()) p.writtenAt = 0
      if (this.stopped) return
      if (ev.code === CloseCode.TOKEN_EXPIRED && this.options.onTokenExpired !== undefined) {
        void Promise.resolve(this.options.onTokenExpired()).catch(() => {}).finally(() => this.retry(true))
        return
      }
      this.retry()
    }
  }

  /** Schedules the next connection, on the next URL. */
  private retry (immediate = false): void {
    if (this.stopped || this.suspended) return
    this.setState('reconnecting')
    this.urlIndex++
    const min = this.options.minDelayMs ?? 250
    const max = this.options.maxDelayMs ?? 10_000
    const ceiling = Math.min(max, min * 2 ** Math.min(this.failures++, 16))
    const delay = immediate ? 0 : Math.random() * ceiling
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.open() }, delay)
  }

  private remember (messageId: string, version: number, shown: boolean): void {
    this.versions.delete(messageId)
    this.versions.set(messageId, { version, shown })
    const window = this.options.dedupeWindow ?? 10_000
    if (this.versions.size > window) this.versions.delete(this.versions.keys().next().value!)
  }

  /**
   * A frame with a whole message (new_message, or message_updated): the first
   * one of a message is handed over as 'message', whichever it is (a change may
   * arrive live before a sync brings the message); a later version as
   * 'updated' (or 'deleted'); a version already handed over is dropped.
   */
  private receiveMessage (m: LiveMessage): void {
    const held = this.versions.get(m.id)
    if (held === undefined || !held.shown) {
      this.remember(m.id, Math.max(m.version, held?.version ?? 0), true)
      this.delivered(m.conversationId, m.seq)
      return this.emit('message', m)
    }
    if (held.version >= m.version) {
      this.stats.duplicatesDropped++
      return
    }
    this.remember(m.id, m.version, true)
    if (m.deletedAt !== undefined) return this.emit('deleted', { conversationId: m.conversationId, messageId: m.id, seq: m.seq, version: m.version })
    this.emit('updated', m)
  }

  private receive (frame: ServerFrame): void {
    this.emit('frame', frame)
    switch (frame.type) {
      case 'new_message':
      case 'message_updated':
        return this.receiveMessage(frame.message)
      case 'message_sent': {
        const { type: _type, ...ack } = frame
        const p = this.pending.get(ack.clientMessageId)
        // This socket gets no new_message for its own send: the ack stands for it.
        if (this.versions.get(ack.messageId) === undefined) this.remember(ack.messageId, ack.version, true)
        if (p === undefined) return
        this.pending.delete(ack.clientMessageId)
        return p.resolve(ack)
      }
      case 'sync_complete': {
        this.syncing = false
        for (const [id, cursor] of Object.entries(frame.cursors)) this.track(id, cursor)
        this.emit('synced', bodyOf(frame))
        if (frame.hasMore || this.syncAgain) { this.syncAgain = false; this.sync() }
        return
      }
      case 'sync_required':
        return this.sync()
      case 'message_deleted': {
        const held = this.versions.get(frame.messageId)
        if (held !== undefined && held.version >= frame.version) { this.stats.duplicatesDropped++; return }
        this.remember(frame.messageId, frame.version, held?.shown ?? false)
        return this.emit('deleted', bodyOf(frame))
      }
      case 'reaction': {
        const held = this.versions.get(frame.messageId)
        if (held !== undefined && held.version >= frame.version) { this.stats.duplicatesDropped++; return }
        this.remember(frame.messageId, frame.version, held?.shown ?? false)
        return this.emit('reaction', bodyOf(frame))
      }
      case 'conversation_removed':
        this.conversations.delete(frame.conversationId)
        return this.emit('removed', bodyOf(frame))
      case 'typing':
        return this.emit('typing', bodyOf(frame))
      case 'receipt':
        return this.emit('receipt', bodyOf(frame))
      case 'presence_update':
        return this.emit('presence', bodyOf(frame))
      case 'conversation_updated':
        return this.emit('conversation', frame.conversation)
      case 'error': {
        this.emit('error', frame)
        const id = frame.clientMessageId
        const p = id === undefined ? undefined : this.pending.get(id)
        if (p === undefined) return
        if (RETRYABLE.has(frame.code)) {
          // Try again after a pause that grows with the attempts.
          const delay = Math.min(this.options.maxDelayMs ?? 10_000, (this.options.minDelayMs ?? 250) * 2 ** Math.min(p.attempts, 6)) * (0.5 + Math.random() / 2)
          p.writtenAt = Date.now() - (this.options.ackTimeoutMs ?? 5000) + delay
          return
        }
        this.pending.delete(id!)
        return p.reject(new SendError(frame.code, frame.message, id!))
      }
    }
  }
}

/** A frame's fields, without its type (what the events carry). */
function bodyOf<F extends { type: string }> ({ type: _type, ...body }: F): Omit<F, 'type'> {
  return body
}
