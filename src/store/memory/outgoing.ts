import type { DeliveryRecord, EventEndpointRecord, OutboxEventRecord } from '../../domain/outgoing.js'
import type { BotRecord, BotRepository, EventEndpointRepository, OutboxRepository } from '../port.js'
import { copy } from './unique-index.js'
import { resealIn, scanIn } from './reseal.js'

const byIdAsc = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1)

export function createMemoryEventEndpointRepository (): EventEndpointRepository {
  const endpoints = new Map<string, EventEndpointRecord>()
  return {
    async scan (afterId, limit) { return scanIn(endpoints, afterId, limit) },
    async reseal (id, guard, set) { return resealIn(endpoints, id, guard, set) },
    async insert (endpoint) { endpoints.set(endpoint.id, copy(endpoint)) },
    async findById (id) { const e = endpoints.get(id); return e === undefined ? null : copy(e) },
    async list () { return [...endpoints.values()].sort(byIdAsc).map(copy) },
    async remove (id) { return endpoints.delete(id) }
  }
}

export function createMemoryOutboxRepository (): OutboxRepository {
  const events = new Map<string, OutboxEventRecord>()
  const keys = new Set<string>()
  const deliveries = new Map<string, DeliveryRecord>()
  const pairs = new Set<string>()
  const free = (r: { leaseUntil?: Date }, now: Date) => r.leaseUntil === undefined || r.leaseUntil <= now
  return {
    async scan (afterId, limit) { return scanIn(events, afterId, limit) },
    async reseal (id, guard, set) { return resealIn(events, id, guard, set) },
    async record (list) {
      for (const e of list) {
        if (keys.has(e.key)) continue
        keys.add(e.key)
        events.set(e.id, { ...copy(e), state: 'new' })
      }
    },
    async claimNew (now, leaseUntil, limit) {
      const due = [...events.values()].filter((e) => e.state === 'new' && free(e, now)).sort(byIdAsc).slice(0, limit)
      for (const e of due) e.leaseUntil = leaseUntil
      return due.map(copy)
    },
    async markExpanded (id) {
      const e = events.get(id)
      if (e !== undefined) { e.state = 'expanded'; delete e.leaseUntil }
    },
    async findEvents (ids) { return ids.flatMap((id) => { const e = events.get(id); return e === undefined ? [] : [copy(e)] }) },
    async addDeliveries (list) {
      for (const d of list) {
        const pair = `${d.eventId}:${d.endpointId}`
        if (pairs.has(pair)) continue
        pairs.add(pair)
        deliveries.set(d.id, copy(d))
      }
    },
    async claimDue (now, leaseUntil, limit, skipEndpoints = []) {
      const due = [...deliveries.values()].filter((d) => d.status === 'pending' && d.nextAttemptAt <= now && free(d, now) && !skipEndpoints.includes(d.endpointId))
        .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || byIdAsc(a, b)).slice(0, limit)
      for (const d of due) d.leaseUntil = leaseUntil
      return due.map(copy)
    },
    async release (ids) {
      for (const id of ids) delete deliveries.get(id)?.leaseUntil
    },
    async settle (id, patch) {
      const d = deliveries.get(id)
      if (d === undefined) return
      Object.assign(d, copy(patch))
      delete d.leaseUntil
    },
    async findDelivery (id) { const d = deliveries.get(id); return d === undefined ? null : copy(d) },
    async listDeliveries (endpointId, limit, beforeId) {
      return [...deliveries.values()].filter((d) => d.endpointId === endpointId && (beforeId === undefined || d.id < beforeId))
        .sort((a, b) => byIdAsc(b, a)).slice(0, limit).map(copy)
    },
    async retry (id, now, expiresAt) {
      const d = deliveries.get(id)
      if (d === undefined) return null
      Object.assign(d, { status: 'pending', nextAttemptAt: now, expiresAt })
      delete d.leaseUntil
      return copy(d)
    },
    async prune (before, limit) {
      const old = [...events.values()].filter((e) => e.state === 'expanded' && e.createdAt < before).slice(0, limit)
      let removed = 0
      for (const e of old) {
        const its = [...deliveries.values()].filter((d) => d.eventId === e.id)
        if (its.some((d) => d.status === 'pending')) continue
        for (const d of its) { deliveries.delete(d.id); pairs.delete(`${d.eventId}:${d.endpointId}`) }
        events.delete(e.id)
        removed++
      }
      return removed
    },
    async backlog () {
      const open = [...[...events.values()].filter((e) => e.state === 'new'), ...[...deliveries.values()].filter((d) => d.status === 'pending')]
      const oldest = open.reduce<Date | undefined>((at, r) => (at === undefined || r.createdAt < at ? r.createdAt : at), undefined)
      return { depth: open.length, ...(oldest !== undefined && { oldest }) }
    }
  }
}

export function createMemoryBotRepository (): BotRepository {
  const bots = new Map<string, BotRecord>()
  return {
    async insert (bot) { bots.set(bot.id, copy(bot)) },
    async findById (id) { const b = bots.get(id); return b === undefined ? null : copy(b) },
    async listByOwner (ownerId) { return [...bots.values()].filter((b) => b.ownerId === ownerId).sort(byIdAsc).map(copy) },
    async revoke (id, at) {
      const b = bots.get(id)
      if (b === undefined || b.revokedAt !== undefined) return false
      b.revokedAt = at
      return true
    }
  }
}
