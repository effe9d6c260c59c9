import { Webhook } from 'standardwebhooks'
import { retryDelay, wants, type DeliveryRecord, type EventEndpointRecord, type NewOutboxEvent, type OutboxEventRecord } from '../domain/outgoing.js'
import type { MessageView } from '../domain/conversations.js'
import type { PresenceRegistry } from '../presence/port.js'
import type { Store } from '../store/port.js'
import { newId } from '../store/ids.js'
import type { EventService } from './events.js'
import { safePost, type PostOutcome } from './safe-post.js'

export interface DispatcherDeps {
  store: Store
  events: EventService
  presence: PresenceRegistry
  allowPrivate: boolean
  retry: { baseMs: number, maxMs: number, forMs: number }
  /** How long one POST may take. */
  timeoutMs: number
  /** Deliveries this node attempts at once, at most. */
  maxInFlight: number
  /** Of those, to one endpoint at most (so a slow or dead one never takes every slot). */
  maxInFlightPerEndpoint: number
  /** How long a claim holds (a node that dies holds its claims no longer than this). */
  leaseMs: number
  /** How often the outbox is looked at when nothing woke the dispatcher. */
  pollMs: number
  /** Events (and their finished deliveries) older than this are removed. */
  retentionMs: number
  onOutcome?: (outcome: 'delivered' | 'retry' | 'failed') => void
  onError?: (err: unknown) => void
  /** Tests: attempts go through this instead of the network. */
  post?: (url: string, body: string, headers: Record<string, string>) => Promise<PostOutcome>
  now?: () => Date
}

/** Unread messages counted per conversation for a badge, and the conversations looked at. */
const BADGE_CAP = 100
const BADGE_CONVERSATIONS = 100
const EXCERPT = 140

/**
 * Delivers the outbox on this node: events are claimed and expanded into one
 * delivery per endpoint that wants them (and a new message into
 * push.requested events for its participants with no device connected on
 * any node); due deliveries are claimed and POSTed, at most maxInFlight at
 * once and maxInFlightPerEndpoint to one endpoint, each on its own (a slow
 * endpoint holds only its own slots, never the others'), and settled:
 * delivered on a 2xx, retried later with a growing delay otherwise, failed
 * once its time is up. Every node runs one; claims keep them apart.
 */
export function createDispatcher (deps: DispatcherDeps) {
  const { store } = deps
  const now = deps.now ?? (() => new Date())
  const post = deps.post ?? ((url, body, headers) => safePost(url, body, headers, { timeoutMs: deps.timeoutMs, allowPrivate: deps.allowPrivate }))
  // A claim outlives the longest attempt, or another node would send it meanwhile.
  const leaseMs = Math.max(deps.leaseMs, deps.timeoutMs + 2000)
  const attempts = new Set<Promise<void>>()
  /** Attempts under way per endpoint. */
  const busy = new Map<string, number>()
  let running = false
  let timer: NodeJS.Timeout | undefined
  let ticking: Promise<void> | undefined
  let again = false

  async function unreadTotal (userId: string): Promise<number> {
    const conversations = await store.conversations.listForUser(userId, BADGE_CONVERSATIONS)
    const memberships = new Map((await store.memberships.listForUser(userId, conversations.map((c) => c.id))).map((m) => [m.conversationId, m]))
    const counts = await Promise.all(conversations.map(async (c) => {
      const m = memberships.get(c.id)
      return m === undefined || c.lastSeq <= m.readSeq ? 0 : await store.messages.countUnread(c.id, m.readSeq, userId, BADGE_CAP)
    }))
    return counts.reduce((a, b) => a + b, 0)
  }

  /** push.requested for each participant (a person, not the sender) none of whose devices is connected. */
  async function pushesFor (message: MessageView): Promise<NewOutboxEvent[]> {
    const members = await store.memberships.listByConversation(message.conversationId)
    const others = members.map((m) => m.userId).filter((id) => id !== message.senderId)
    const people = (await store.users.findByIds(others)).filter((u) => u.kind === 'user').map((u) => u.id)
    const online = await deps.presence.online(people)
    const offline = people.filter((id) => !online.has(id))
    return await Promise.all(offline.map(async (userId): Promise<NewOutboxEvent> => ({
      key: `push.requested:${message.id}:${userId}`,
      type: 'push.requested',
      data: {
        userId,
        conversationId: message.conversationId,
        messageId: message.id,
        senderId: message.senderId,
        excerpt: [...message.content].slice(0, EXCERPT).join(''),
        unreadTotal: await unreadTotal(userId)
      }
    })))
  }

  async function expand (event: OutboxEventRecord, endpoints: EventEndpointRecord[]): Promise<void> {
    const at = now()
    const deliveries: DeliveryRecord[] = endpoints.filter((e) => wants(e.events, event.type)).map((e) => ({
      id: newId(), eventId: event.id, endpointId: e.id, type: event.type, createdAt: event.createdAt, status: 'pending', attempts: 0, nextAttemptAt: at, expiresAt: new Date(event.createdAt.getTime() + deps.retry.forMs)
    }))
    await store.outbox.addDeliveries(deliveries)
    if (event.type === 'message.created' && event.body !== '' && endpoints.some((e) => wants(e.events, 'push.requested'))) {
      const { data } = JSON.parse(event.body) as { data: MessageView }
      await deps.events.record(await pushesFor(data))
    }
    await store.outbox.markExpanded(event.id)
  }

  async function attempt (d: DeliveryRecord): Promise<void> {
    const [event] = await store.outbox.findEvents([d.eventId])
    const endpoint = await store.eventEndpoints.findById(d.endpointId)
    const at = now()
    const attempts = d.attempts + 1
    const give = async (lastError: string) => {
      await store.outbox.settle(d.id, { status: 'failed', attempts: d.attempts, nextAttemptAt: at, lastAttemptAt: at, lastError })
      deps.onOutcome?.('failed')
    }
    if (endpoint === null) return await give('the endpoint was deleted')
    if (event === undefined || event.body === '' || endpoint.secret === '') return await give('the event or the endpoint\'s secret did not decrypt')
    const headers = { 'webhook-id': event.id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(endpoint.secret).sign(event.id, at, event.body) }
    const outcome = await post(endpoint.url, event.body, headers)
    const done = now()
    const base = { attempts, lastAttemptAt: done, ...(outcome.statusCode !== undefined && { lastStatusCode: outcome.statusCode }), lastError: outcome.error ?? (outcome.statusCode !== undefined && (outcome.statusCode < 200 || outcome.statusCode > 299) ? `answered ${outcome.statusCode}` : '') }
    if (outcome.statusCode !== undefined && outcome.statusCode >= 200 && outcome.statusCode <= 299) {
      await store.outbox.settle(d.id, { ...base, status: 'delivered', nextAttemptAt: done, deliveredAt: done, lastError: '' })
      deps.onOutcome?.('delivered')
      return
    }
    const next = new Date(done.getTime() + retryDelay(attempts, deps.retry.baseMs, deps.retry.maxMs))
    const expired = next > d.expiresAt
    await store.outbox.settle(d.id, { ...base, status: expired ? 'failed' : 'pending', nextAttemptAt: next })
    deps.onOutcome?.(expired ? 'failed' : 'retry')
  }

  let prunedAt = 0
  async function tick (): Promise<void> {
    const at = now()
    // Once a minute per node: what is finished and older than the retention goes (a few hundred at a time).
    if (at.getTime() - prunedAt >= 60_000) {
      prunedAt = at.getTime()
      await store.outbox.prune(new Date(at.getTime() - deps.retentionMs), 500)
    }
    const until = new Date(at.getTime() + leaseMs)
    const fresh = await store.outbox.claimNew(at, until, 50)
    if (fresh.length > 0) {
      const endpoints = await store.eventEndpoints.list()
      for (const event of fresh) await expand(event, endpoints)
      again = true
    }
    const room = deps.maxInFlight - attempts.size
    if (room <= 0) return
    const full = [...busy].filter(([, n]) => n >= deps.maxInFlightPerEndpoint).map(([id]) => id)
    const due = await store.outbox.claimDue(now(), new Date(now().getTime() + leaseMs), room, full)
    const spare: string[] = []
    for (const d of due) {
      const n = busy.get(d.endpointId) ?? 0
      // More to one endpoint than it may have in flight: given back, for the next round (or another node).
      if (n >= deps.maxInFlightPerEndpoint) { spare.push(d.id); continue }
      busy.set(d.endpointId, n + 1)
      const p: Promise<void> = attempt(d).catch((err: unknown) => deps.onError?.(err)).finally(() => {
        attempts.delete(p)
        const left = (busy.get(d.endpointId) ?? 1) - 1
        if (left > 0) busy.set(d.endpointId, left)
        else busy.delete(d.endpointId)
        wake()
      })
      attempts.add(p)
    }
    if (spare.length > 0) await store.outbox.release(spare)
    if (due.length === room) again = true
  }

  function schedule (ms: number) {
    if (!running) return
    clearTimeout(timer)
    timer = setTimeout(run, ms)
    timer.unref()
  }

  function run () {
    if (!running || ticking !== undefined) { again = true; return }
    again = false
    ticking = tick().catch((err: unknown) => deps.onError?.(err)).finally(() => {
      ticking = undefined
      schedule(again ? 0 : deps.pollMs)
    })
  }

  /** Something was recorded or settled: look again now. */
  function wake () { if (running) schedule(0) }

  return {
    wake,
    start () { if (!running) { running = true; schedule(0) } },
    /** Stops claiming, and waits a second at most for the attempts under way (the claims of those cut off run out, and another node sends them). */
    async stop () {
      running = false
      clearTimeout(timer)
      await ticking
      await Promise.race([Promise.all(attempts), new Promise((resolve) => setTimeout(resolve, 1000).unref())])
    },
    get inFlight () { return attempts.size }
  }
}

export type Dispatcher = ReturnType<typeof createDispatcher>
