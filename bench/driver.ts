/**
 * The load driver: a process of its own, apart from the servers it measures.
 * Runs one scenario against one target with real websocket clients and
 * prints `RESULT <json>` on its last line.
 *
 *   tsx bench/driver.ts '<spec json>'
 *
 * Senders are open loop (a fixed offered rate, whatever the answers), each
 * delivery's latency (send to receive, on this process's clock) goes into an
 * HDR histogram, and every message is checked to reach each intended socket
 * exactly once.
 */
import { createInterface } from 'node:readline'
import * as hdr from 'hdr-histogram-js'
import { ours, pool, rawWs, socketIo, type BenchClient, type BenchUser, type Target, type TargetKind } from './lib/targets.js'

export type Spec =
  | { scenario: 'fanout', members: number, rates: number[], stepSeconds: number, p99LimitMs: number }
  | { scenario: 'directs', pairs: number, rate: number, seconds: number, crossNode?: boolean }
  | { scenario: 'idle', connections: number, users: number }
  | { scenario: 'churn', seconds: number, concurrency: number }

export interface DriverInput { kind: TargetKind, urls: string[], runId: string, contentBytes: number, spec: Spec }

const log = (msg: string) => process.stderr.write(`[driver] ${msg}\n`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const now = () => performance.timeOrigin + performance.now()

function histogram () {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 })
}

type Histogram = ReturnType<typeof histogram>
const ms = (h: Histogram, p: number) => Math.round(h.getValueAtPercentile(p) / 10) / 100

function targetOf (input: DriverInput): Target {
  if (input.kind === 'ours') return ours(input.urls, input.runId)
  if (input.kind === 'ws') return rawWs(input.urls)
  return socketIo(input.urls)
}

interface Member { user: BenchUser, rooms: string[], url: string }

/** Connected members, each with what it received. */
async function connectAll (target: Target, members: Member[], onDelivery: (index: number, room: string, id: string, content: string) => void, onAck: (id: string) => void) {
  const clients: BenchClient[] = []
  await pool(members, 50, async (m, i) => {
    const c = target.connect(m.url, m.user, m.rooms, { onMessage: (room, id, content) => onDelivery(i, room, id, content), onAck })
    clients[i] = c
    await c.ready
  })
  return clients
}

export interface TrafficResult {
  offeredPerSecond: number
  sent: number
  acked: number
  /** Messages per second that reached all their recipients, over the send window plus the drain. */
  deliveredMessagesPerSecond: number
  deliveriesPerSecond: number
  expectedDeliveries: number
  deliveries: number
  missing: number
  duplicates: number
  exactlyOnce: boolean
  p50Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
}

/**
 * Sends at `rate` for `seconds` from the given (sender, room) slots in turn,
 * then waits for the deliveries to settle, and checks them.
 */
async function traffic (clients: BenchClient[], members: Member[], slots: Array<{ sender: number, room: string }>, rate: number, seconds: number, contentBytes: number, label: string, state: { deliveries: Map<string, Set<number>>, hist: Histogram, dup: number, acked: Set<string>, lastDeliveryAt: number }): Promise<TrafficResult> {
  const roomMembers = new Map<string, number[]>()
  members.forEach((m, i) => { for (const r of m.rooms) { let list = roomMembers.get(r); if (list === undefined) roomMembers.set(r, (list = [])); list.push(i) } })
  state.deliveries.clear()
  state.acked.clear()
  state.dup = 0
  state.hist.reset()
  const sentTo = new Map<string, { room: string, sender: number }>()
  const pad = 'x'.repeat(Math.max(0, contentBytes - 20))
  const start = now()
  let sent = 0
  const total = Math.round(rate * seconds)
  while (sent < total) {
    const due = Math.min(total, Math.floor(((now() - start) / 1000) * rate) + 1)
    for (; sent < due; sent++) {
      const slot = slots[sent % slots.length]!
      const id = `${label}-${sent}`
      sentTo.set(id, slot)
      clients[slot.sender]!.send(slot.room, id, `${now().toFixed(3)}|${pad}`)
    }
    await sleep(2)
  }
  // Drain: until every acked message reached its recipients, or nothing has moved for 3 s (at most 180 s:
  // an overloaded server delivers its backlog late, and late is not lost).
  const expectedFor = (id: string) => (roomMembers.get(sentTo.get(id)!.room)?.length ?? 1) - 1
  const deadline = now() + 180_000
  let last = -1
  let stillSince = now()
  for (;;) {
    let got = 0
    for (const set of state.deliveries.values()) got += set.size
    const expected = [...state.acked].reduce((n, id) => n + (sentTo.has(id) ? expectedFor(id) : 0), 0)
    if (state.acked.size === total && got >= expected) break
    const progress = got + state.acked.size
    if (progress !== last) { last = progress; stillSince = now() }
    if (now() - stillSince > 3000 || now() > deadline) break
    await sleep(20)
  }
  let deliveries = 0
  let missing = 0
  let expectedDeliveries = 0
  for (const id of state.acked) {
    const slot = sentTo.get(id)
    if (slot === undefined) continue
    const want = (roomMembers.get(slot.room) ?? []).filter((i) => i !== slot.sender)
    const got = state.deliveries.get(id) ?? new Set()
    expectedDeliveries += want.length
    for (const i of want) if (got.has(i)) deliveries++; else missing++
  }
  const window = Math.max(1, (state.lastDeliveryAt - start) / 1000)
  const perMessage = Math.max(1, expectedDeliveries / Math.max(1, state.acked.size))
  return {
    offeredPerSecond: rate,
    sent: total,
    acked: state.acked.size,
    deliveredMessagesPerSecond: Math.round(deliveries / perMessage / window),
    deliveriesPerSecond: Math.round(deliveries / window),
    expectedDeliveries,
    deliveries,
    missing,
    duplicates: state.dup,
    exactlyOnce: missing === 0 && state.dup === 0 && state.acked.size === total,
    p50Ms: ms(state.hist, 50),
    p99Ms: ms(state.hist, 99),
    p999Ms: ms(state.hist, 99.9),
    maxMs: Math.round(state.hist.maxValue / 10) / 100
  }
}

function newState () {
  return { deliveries: new Map<string, Set<number>>(), hist: histogram(), dup: 0, acked: new Set<string>(), lastDeliveryAt: 0 }
}

function recorder (state: ReturnType<typeof newState>) {
  return {
    onDelivery (index: number, _room: string, id: string, content: string) {
      const t = now()
      let set = state.deliveries.get(id)
      if (set === undefined) state.deliveries.set(id, (set = new Set()))
      if (set.has(index)) { state.dup++; return }
      set.add(index)
      state.lastDeliveryAt = t
      state.hist.recordValue(Math.max(1, Math.round((t - Number.parseFloat(content)) * 1000)))
    },
    onAck (id: string) { state.acked.add(id) }
  }
}

async function fanout (target: Target, input: DriverInput, spec: Extract<Spec, { scenario: 'fanout' }>) {
  const users = await target.users(spec.members, 'f')
  const room = await target.room(users, 'fan')
  const members: Member[] = users.map((user, i) => ({ user, rooms: [room], url: target.urls[i % target.urls.length]! }))
  const state = newState()
  const rec = recorder(state)
  const clients = await connectAll(target, members, rec.onDelivery, rec.onAck)
  log(`fanout: ${clients.length} members connected`)
  const steps: TrafficResult[] = []
  for (const rate of spec.rates) {
    const r = await traffic(clients, members, [{ sender: 0, room }], rate, spec.stepSeconds, input.contentBytes, `f${rate}`, state)
    steps.push(r)
    log(`fanout ${rate}/s: delivered ${r.deliveredMessagesPerSecond} msgs/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, exactly once ${r.exactlyOnce}`)
    if (r.p99Ms > spec.p99LimitMs || r.deliveredMessagesPerSecond < 0.9 * rate || !r.exactlyOnce) break
    await sleep(500)
  }
  for (const c of clients) c.close()
  const good = steps.filter((s) => s.p99Ms <= spec.p99LimitMs && s.deliveredMessagesPerSecond >= 0.9 * s.offeredPerSecond && s.exactlyOnce)
  return { members: spec.members, steps, bestDeliveredMessagesPerSecond: Math.max(0, ...good.map((s) => s.deliveredMessagesPerSecond)), exactlyOnce: steps.every((s) => s.exactlyOnce) }
}

async function directs (target: Target, input: DriverInput, spec: Extract<Spec, { scenario: 'directs' }>) {
  const users = await target.users(spec.pairs * 2, 'd')
  const rooms = await pool(Array.from({ length: spec.pairs }, (_, i) => i), 8, (i) => target.room([users[2 * i]!, users[2 * i + 1]!], 'dm'))
  const urls = target.urls
  // Across nodes: the first of each pair on node 0, the second on node 1.
  const members: Member[] = users.map((user, i) => ({ user, rooms: [rooms[Math.floor(i / 2)]!], url: spec.crossNode === true ? urls[i % 2]! : urls[0]! }))
  const state = newState()
  const rec = recorder(state)
  const clients = await connectAll(target, members, rec.onDelivery, rec.onAck)
  log(`directs: ${clients.length} users connected`)
  const slots = members.map((m, i) => ({ sender: i, room: m.rooms[0]! }))
  for (let i = slots.length - 1; i > 0; i--) { const j = (i * 7919) % (i + 1); [slots[i], slots[j]] = [slots[j]!, slots[i]!] }
  const r = await traffic(clients, members, slots, spec.rate, spec.seconds, input.contentBytes, 'd', state)
  log(`directs ${spec.rate}/s: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, exactly once ${r.exactlyOnce}`)
  for (const c of clients) c.close()
  return { pairs: spec.pairs, crossNode: spec.crossNode === true, ...r }
}

/** Connects idle sockets, says READY, holds them until the orchestrator (which measures the server) says done. */
async function idle (target: Target, spec: Extract<Spec, { scenario: 'idle' }>) {
  const users = await target.users(spec.users, 'i')
  const members: Member[] = Array.from({ length: spec.connections }, (_, i) => ({ user: users[i % users.length]!, rooms: [], url: target.urls[0]! }))
  const started = now()
  const clients = await connectAll(target, members, () => {}, () => {})
  const seconds = (now() - started) / 1000
  log(`idle: ${clients.length} sockets open in ${seconds.toFixed(1)} s`)
  process.stdout.write('READY\n')
  const rl = createInterface({ input: process.stdin })
  await new Promise<void>((resolve) => rl.once('line', () => resolve()))
  rl.close()
  for (const c of clients) c.close()
  return { connections: clients.length, connectSeconds: Math.round(seconds * 10) / 10 }
}

/** Opens sockets as fast as `concurrency` allows, each closed once joined; connects/s and handshake percentiles. */
async function churn (target: Target, input: DriverInput, spec: Extract<Spec, { scenario: 'churn' }>) {
  const users = await target.users(20, 'c')
  const hist = histogram()
  let done = 0
  let failed = 0
  const start = now()
  const end = start + spec.seconds * 1000
  await Promise.all(Array.from({ length: spec.concurrency }, async (_, w) => {
    for (let i = 0; now() < end; i++) {
      const t0 = now()
      try {
        const c = target.connect(target.urls[0]!, users[(w + i) % users.length]!, [], { onMessage: () => {}, onAck: () => {} })
        await c.ready
        hist.recordValue(Math.max(1, Math.round((now() - t0) * 1000)))
        c.close()
        done++
      } catch {
        failed++
      }
    }
  }))
  const perSecond = Math.round(done / ((now() - start) / 1000))
  log(`churn: ${perSecond} connects/s, p99 ${ms(hist, 99)} ms, ${failed} failed`)
  void input
  return { connectsPerSecond: perSecond, connects: done, failed, p50Ms: ms(hist, 50), p99Ms: ms(hist, 99) }
}

async function main () {
  const input = JSON.parse(process.argv[2] ?? '{}') as DriverInput
  const target = targetOf(input)
  const spec = input.spec
  let result: unknown
  if (spec.scenario === 'fanout') result = await fanout(target, input, spec)
  else if (spec.scenario === 'directs') result = await directs(target, input, spec)
  else if (spec.scenario === 'idle') result = await idle(target, spec)
  else result = await churn(target, input, spec)
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
  process.exit(0)
}


main().catch((err) => {
  log(String((err as Error).stack ?? err))
  process.exit(1)
})
