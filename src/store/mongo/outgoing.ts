import { ObjectId, type Collection, type Db, type Document, type Filter, type WithId } from 'mongodb'
import { DuplicateKeyError } from '../../domain/errors.js'
import type { DeliveryRecord, EventEndpointRecord, OutboxEventRecord } from '../../domain/outgoing.js'
import type { BotRecord, BotRepository, EventEndpointRepository, OutboxRepository } from '../port.js'
import type { Guard } from './errors.js'
import { ensureIndexes } from './indexes.js'
import { byId, oid } from './ids.js'
import { mongoResealable } from './reseal.js'

type Doc<R> = Omit<R, 'id'>
const toRecord = <R>({ _id, ...rest }: WithId<Doc<R>>) => ({ id: _id.toHexString(), ...rest }) as R

export async function ensureOutgoingIndexes (db: Db): Promise<void> {
  await ensureIndexes(db, 'events', [
    { key: { key: 1 }, name: 'event_key_unique', unique: true },
    { key: { state: 1, _id: 1 }, name: 'state' },
    { key: { state: 1, createdAt: 1 }, name: 'state_created' }
  ])
  await ensureIndexes(db, 'deliveries', [
    { key: { eventId: 1, endpointId: 1 }, name: 'delivery_unique', unique: true },
    { key: { status: 1, nextAttemptAt: 1 }, name: 'due' },
    { key: { endpointId: 1, _id: -1 }, name: 'endpoint' },
    { key: { eventId: 1, status: 1 }, name: 'event_status' }
  ])
  await ensureIndexes(db, 'outboxClaims', [{ key: { at: 1 }, name: 'at' }])
  await ensureIndexes(db, 'bots', [{ key: { ownerId: 1, _id: 1 }, name: 'owner' }])
}

/** Inserts one document, keeping the one there when a unique index refuses it. */
async function insertUnlessThere<D> (guard: Guard, insert: () => Promise<D>): Promise<void> {
  try {
    await guard(insert)
  } catch (err) {
    if (!(err instanceof DuplicateKeyError)) throw err
  }
}

/** Free at `now`: never leased, or the lease ran out. */
const free = (now: Date) => ({ $or: [{ leaseUntil: { $exists: false } }, { leaseUntil: { $lte: now } }] })

export function createMongoEventEndpointRepository (db: Db, guard: Guard): EventEndpointRepository {
  const endpoints = db.collection<Doc<EventEndpointRecord>>('eventEndpoints')
  return {
    ...mongoResealable(endpoints, guard, toRecord<EventEndpointRecord>),
    async insert ({ id, ...doc }) { await guard(() => endpoints.insertOne({ _id: new ObjectId(id), ...doc })) },
    findById: byId(endpoints, guard, toRecord<EventEndpointRecord>),
    async list () { return (await guard(() => endpoints.find({}).sort({ _id: 1 }).toArray())).map(toRecord<EventEndpointRecord>) },
    async remove (id) {
      const _id = oid(id)
      return _id !== null && (await guard(() => endpoints.deleteOne({ _id }))).deletedCount === 1
    }
  }
}

export function createMongoOutboxRepository (db: Db, guard: Guard): OutboxRepository {
  const events = db.collection<Doc<OutboxEventRecord>>('events')
  const deliveries = db.collection<Doc<DeliveryRecord>>('deliveries')
  const claims = db.collection<{ _id: string, at: Date }>('outboxClaims')

  /**
   * Finds candidates, then leases each that no other node leased first. The
   * guard is a unique index, not the update's condition (FerretDB 1.x applies
   * updates as read-modify-write, so two conditional updates can both match):
   * a claim document named by the record and the lease it was found with
   * (none, or the one that ran out) goes in once, and only its inserter
   * takes the record; so what ends a lease (settle, release, retry) sets one
   * that has run out rather than none. Claim documents go after a day.
   */
  async function claim<D extends Document> (collection: Collection<D>, kind: string, filter: Filter<Document>, sort: Record<string, 1 | -1>, now: Date, leaseUntil: Date, limit: number): Promise<Array<WithId<D>>> {
    const any = collection as unknown as Collection<Document>
    const found = await guard(() => any.find({ ...filter, ...free(now) }).sort(sort).limit(limit).toArray())
    const claimed: Array<WithId<D>> = []
    for (const doc of found) {
      const was = doc.leaseUntil as Date | undefined
      try {
        await guard(() => claims.insertOne({ _id: `${kind}:${String(doc._id)}:${was?.getTime() ?? 'free'}`, at: now }))
      } catch (err) {
        if (err instanceof DuplicateKeyError) continue
        throw err
      }
      const lease = was === undefined ? { leaseUntil: { $exists: false } } : { leaseUntil: was }
      const res = await guard(() => any.updateOne({ _id: doc._id, ...filter, ...lease }, { $set: { leaseUntil } }))
      if (res.matchedCount === 1) claimed.push({ ...doc, leaseUntil } as unknown as WithId<D>)
    }
    if (Math.random() < 0.01) await guard(() => claims.deleteMany({ at: { $lt: new Date(now.getTime() - 86400_000) } }))
    return claimed
  }

  return {
    ...mongoResealable(events, guard, toRecord<OutboxEventRecord>),
    async record (list) {
      for (const { id, ...doc } of list) await insertUnlessThere(guard, () => events.insertOne({ _id: new ObjectId(id), ...doc, state: 'new' }))
    },
    async claimNew (now, leaseUntil, limit) {
      return (await claim(events, 'event', { state: 'new' }, { _id: 1 }, now, leaseUntil, limit)).map(toRecord<OutboxEventRecord>)
    },
    async markExpanded (id) {
      await guard(() => events.updateOne({ _id: new ObjectId(id) }, { $set: { state: 'expanded' }, $unset: { leaseUntil: '' } }))
    },
    async findEvents (ids) {
      const _ids = ids.flatMap((id) => { const o = oid(id); return o === null ? [] : [o] })
      return (await guard(() => events.find({ _id: { $in: _ids } }).toArray())).map(toRecord<OutboxEventRecord>)
    },
    async addDeliveries (list) {
      for (const { id, ...doc } of list) await insertUnlessThere(guard, () => deliveries.insertOne({ _id: new ObjectId(id), ...doc }))
    },
    async claimDue (now, leaseUntil, limit, skipEndpoints = []) {
      const skip = skipEndpoints.length === 0 ? {} : { endpointId: { $nin: [...skipEndpoints] } }
      return (await claim(deliveries, 'delivery', { status: 'pending', nextAttemptAt: { $lte: now }, ...skip }, { nextAttemptAt: 1, _id: 1 }, now, leaseUntil, limit)).map(toRecord<DeliveryRecord>)
    },
    async release (ids) {
      const _ids = ids.flatMap((id) => { const o = oid(id); return o === null ? [] : [o] })
      // A lease that ran out now (not none): the next claim is of a generation never claimed before.
      if (_ids.length > 0) await guard(() => deliveries.updateMany({ _id: { $in: _ids } }, { $set: { leaseUntil: new Date() } }))
    },
    async settle (id, patch) {
      await guard(() => deliveries.updateOne({ _id: new ObjectId(id) }, { $set: { ...patch, leaseUntil: patch.lastAttemptAt } }))
    },
    findDelivery: byId(deliveries, guard, toRecord<DeliveryRecord>),
    async listDeliveries (endpointId, limit, beforeId) {
      const before = beforeId === undefined ? {} : { _id: { $lt: oid(beforeId) ?? new ObjectId('000000000000000000000000') } }
      return (await guard(() => deliveries.find({ endpointId, ...before }).sort({ _id: -1 }).limit(limit).toArray())).map(toRecord<DeliveryRecord>)
    },
    async retry (id, now, expiresAt) {
      const _id = oid(id)
      if (_id === null) return null
      const res = await guard(() => deliveries.updateOne({ _id }, { $set: { status: 'pending', nextAttemptAt: now, expiresAt, leaseUntil: now } }))
      if (res.matchedCount === 0) return null
      const doc = await guard(() => deliveries.findOne({ _id }))
      return doc === null ? null : toRecord<DeliveryRecord>(doc)
    },
    async prune (before, limit) {
      const old = await guard(() => events.find({ state: 'expanded', createdAt: { $lt: before } }).project<{ _id: ObjectId }>({ _id: 1 }).limit(limit).toArray())
      if (old.length === 0) return 0
      const ids = old.map((e) => e._id.toHexString())
      const busy = new Set((await guard(() => deliveries.find({ eventId: { $in: ids }, status: 'pending' }).project<{ eventId: string }>({ eventId: 1 }).toArray())).map((d) => d.eventId))
      const done = ids.filter((id) => !busy.has(id))
      if (done.length === 0) return 0
      // Deliveries first: an event is never gone while a delivery of it is left (a rerun finishes either).
      await guard(() => deliveries.deleteMany({ eventId: { $in: done } }))
      await guard(() => events.deleteMany({ _id: { $in: done.map((id) => new ObjectId(id)) } }))
      return done.length
    },
    async backlog () {
      const [newEvents, pending] = await Promise.all([guard(() => events.countDocuments({ state: 'new' })), guard(() => deliveries.countDocuments({ status: 'pending' }))])
      const [oldestEvent, oldestDelivery] = await Promise.all([
        guard(() => events.find({ state: 'new' }).sort({ _id: 1 }).limit(1).toArray()),
        guard(() => deliveries.find({ status: 'pending' }).sort({ createdAt: 1 }).limit(1).toArray())
      ])
      const oldest = [oldestEvent[0]?.createdAt, oldestDelivery[0]?.createdAt].filter((d): d is Date => d !== undefined).sort((a, b) => a.getTime() - b.getTime())[0]
      return { depth: newEvents + pending, ...(oldest !== undefined && { oldest }) }
    }
  }
}

export function createMongoBotRepository (db: Db, guard: Guard): BotRepository {
  const bots = db.collection<Doc<BotRecord>>('bots')
  return {
    async insert ({ id, ...doc }) { await guard(() => bots.insertOne({ _id: new ObjectId(id), ...doc })) },
    findById: byId(bots, guard, toRecord<BotRecord>),
    async listByOwner (ownerId) { return (await guard(() => bots.find({ ownerId }).sort({ _id: 1 }).toArray())).map(toRecord<BotRecord>) },
    async revoke (id, at) {
      const _id = oid(id)
      return _id !== null && (await guard(() => bots.updateOne({ _id, revokedAt: { $exists: false } }, { $set: { revokedAt: at } }))).modifiedCount === 1
    }
  }
}
