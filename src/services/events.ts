import { randomBytes } from 'node:crypto'
import { notFound, validationError } from '../domain/errors.js'
import { endpointUrlProblem, EVENT_TYPES, wants, type DeliveryRecord, type EventEndpointRecord, type EventType, type NewOutboxEvent } from '../domain/outgoing.js'
import type { Store } from '../store/port.js'
import { newId } from '../store/ids.js'

export interface EventServiceDeps {
  store: Store
  /** EVENT_ENDPOINTS_ALLOW_PRIVATE. */
  allowPrivate: boolean
  /** How long a delivery is retried (EVENT_RETRY_FOR_MS). */
  retryForMs: number
  /** How long this node trusts its list of endpoints before reading it again. */
  endpointsTtlMs?: number
  /** The node's dispatcher is told: something new to deliver. */
  onRecorded?: () => void
  now?: () => Date
}

export interface EventEndpointView { id: string, url: string, events: EventType[], description?: string, createdAt: string }
export interface DeliveryView {
  id: string
  eventId: string
  type: EventType
  attempts: number
  status: DeliveryRecord['status']
  lastStatusCode?: number
  lastError?: string
  lastAttemptAt?: string
  nextAttemptAt?: string
  deliveredAt?: string
  createdAt: string
}

const endpointView = (e: EventEndpointRecord): EventEndpointView =>
  ({ id: e.id, url: e.url, events: e.events, ...(e.description !== undefined && { description: e.description }), createdAt: e.createdAt.toISOString() })

export const deliveryView = (d: DeliveryRecord): DeliveryView => ({
  id: d.id,
  eventId: d.eventId,
  type: d.type,
  attempts: d.attempts,
  status: d.status,
  ...(d.lastStatusCode !== undefined && { lastStatusCode: d.lastStatusCode }),
  ...(d.lastError !== undefined && { lastError: d.lastError }),
  ...(d.lastAttemptAt !== undefined && { lastAttemptAt: d.lastAttemptAt.toISOString() }),
  ...(d.status === 'pending' && { nextAttemptAt: d.nextAttemptAt.toISOString() }),
  ...(d.deliveredAt !== undefined && { deliveredAt: d.deliveredAt.toISOString() }),
  createdAt: d.createdAt.toISOString()
})

/**
 * Outgoing events: the admin API over endpoints and deliveries, and
 * `record`, which the services call with each change after it is stored and
 * before it is answered (a request retried after a crash records it again:
 * once, by its key). Nothing is recorded that no endpoint wants; an endpoint
 * created on another node is seen within endpointsTtlMs.
 */
export function createEventService (deps: EventServiceDeps) {
  const { store } = deps
  const now = deps.now ?? (() => new Date())
  const ttl = deps.endpointsTtlMs ?? 1000
  let cached: { at: number, list: Promise<EventEndpointRecord[]> } | undefined
  const endpoints = (): Promise<EventEndpointRecord[]> => {
    const at = Date.now()
    if (cached === undefined || at - cached.at >= ttl) {
      const list = store.eventEndpoints.list()
      cached = { at, list }
      list.catch(() => { if (cached?.list === list) cached = undefined })
    }
    return cached.list
  }
  const forget = () => { cached = undefined }

  async function endpointOf (id: string): Promise<EventEndpointRecord> {
    const endpoint = await store.eventEndpoints.findById(id)
    if (endpoint === null) throw notFound('event endpoint')
    return endpoint
  }

  return {
    endpoints,

    /** Records the events some endpoint wants (a new message also when one wants push.requested: the dispatcher derives those from it). */
    async record (events: readonly NewOutboxEvent[]): Promise<void> {
      if (events.length === 0) return
      const list = await endpoints()
      if (list.length === 0) return
      const wanted = events.filter((e) => list.some((ep) => wants(ep.events, e.type) || (e.type === 'message.created' && wants(ep.events, 'push.requested'))))
      if (wanted.length === 0) return
      const at = now()
      await store.outbox.record(wanted.map((e) => {
        const id = newId()
        return { id, key: e.key, type: e.type, createdAt: at, body: JSON.stringify({ id, type: e.type, createdAt: at.toISOString(), data: e.data }) }
      }))
      deps.onRecorded?.()
    },

    async createEndpoint (input: { url: string, events?: string[], description?: string }): Promise<EventEndpointView & { secret: string }> {
      const problem = endpointUrlProblem(input.url, deps.allowPrivate)
      if (problem !== undefined) throw validationError(`url ${problem}`, { field: 'url' })
      const unknown = (input.events ?? []).find((e) => !(EVENT_TYPES as readonly string[]).includes(e))
      if (unknown !== undefined) throw validationError(`unknown event type ${JSON.stringify(unknown)}; the types are ${EVENT_TYPES.join(', ')}`, { field: 'events' })
      const endpoint: EventEndpointRecord = {
        id: newId(),
        url: input.url,
        events: [...new Set(input.events ?? [])] as EventType[],
        ...(input.description !== undefined && { description: input.description }),
        secret: `whsec_${randomBytes(32).toString('base64')}`,
        createdAt: now()
      }
      await store.eventEndpoints.insert(endpoint)
      forget()
      return { ...endpointView(endpoint), secret: endpoint.secret }
    },

    async listEndpoints (): Promise<EventEndpointView[]> {
      return (await store.eventEndpoints.list()).map(endpointView)
    },

    /** Its pending deliveries are given up (`failed`) when the dispatcher next reaches them. */
    async removeEndpoint (id: string): Promise<void> {
      if (!await store.eventEndpoints.remove(id)) throw notFound('event endpoint')
      forget()
    },

    async deliveries (endpointId: string, limit: number, before?: string): Promise<{ items: DeliveryView[], nextCursor: string | null }> {
      await endpointOf(endpointId)
      const page = await store.outbox.listDeliveries(endpointId, limit + 1, before)
      const items = page.slice(0, limit)
      return { items: items.map(deliveryView), nextCursor: page.length > limit ? items.at(-1)!.id : null }
    },

    /** Attempted again at once, and retried for another EVENT_RETRY_FOR_MS (a delivered one is sent again too). */
    async retry (endpointId: string, deliveryId: string): Promise<DeliveryView> {
      await endpointOf(endpointId)
      const found = await store.outbox.findDelivery(deliveryId)
      if (found === null || found.endpointId !== endpointId) throw notFound('delivery')
      const at = now()
      const again = await store.outbox.retry(deliveryId, at, new Date(at.getTime() + deps.retryForMs))
      if (again === null) throw notFound('delivery')
      deps.onRecorded?.()
      return deliveryView(again)
    }
  }
}

export type EventService = ReturnType<typeof createEventService>
