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
import { ours, pool, rawWs, reactionKey, socketIo, type BenchClient, type BenchUser, type ClientHandlers, type Target, type TargetKind } from './lib/targets.js'

export type Spec =
  | { scenario: 'fanout', members: number, rates: number[], stepSeconds: number, p99LimitMs: number }
  | { scenario: 'directs', pairs: number, rate: number, seconds: number, crossNode?: boolean }
  | { scenario: 'idle', connections: number, users: number }
  | { scenario: 'churn', seconds: number, concurrency: number }
  | { scenario: 'reactions', members: number, rate: number, seconds: number }
  | { scenario: 'split', groups: number, members: number, rate: number, seconds: number }

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
async function connectAll (target: Target, members: Member[], onDelivery: (index: number, room: string, id: string, content: string) => void, onAck: (id: string) => void, onReaction?: (index: number, key: string) => void) {
  const clients: BenchClient[] = []
  await pool(members, 50, async (m, i) => {
    const handlers: ClientHandlers = { onMessage: (room, id, content) => onDelivery(i, room, id, content), onAck, ...(onReaction !== undefined && { onReaction: (_room: string, key: string) => onReaction(i, key) }) }
    const c = target.connect(m.url, m.user, m.rooms, handlers)
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

/**
 * Two nodes, and groups that each live on one of them: a group's listeners
 * are all connected to node g % 2, and its sender posts over REST to the
 * other node, which holds no socket of the group. Every delivery crosses the
 * broker once, and each node should receive the publications of the groups
 * it has listeners of, and of no other (see the orchestrator's per-node
 * broker counts). Ours only (REST sends).
 */
async function split (target: Target, input: DriverInput, spec: Extract<Spec, { scenario: 'split' }>) {
  const urls = target.urls
  const users = await target.users(spec.groups * spec.members, 's')
  const groupOf = (i: number) => Math.floor(i / spec.members)
  const rooms = await pool(Array.from({ length: spec.groups }, (_, g) => g), 4, (g) => target.room(users.slice(g * spec.members, (g + 1) * spec.members), 'split'))
  const members: Member[] = users.map((user, i) => ({ user, rooms: [rooms[groupOf(i)]!], url: urls[groupOf(i) % 2]! }))
  const state = newState()
  const rec = recorder(state)
  const isSender = (i: number) => i % spec.members === 0
  // Each listener's index in `members`, for the recorder (senders have no socket).
  const listenerIndex = members.map((_, i) => i).filter((i) => !isSender(i))
  const listeners = await connectAll(target, listenerIndex.map((i) => members[i]!), (k, room, id, content) => rec.onDelivery(listenerIndex[k]!, room, id, content), rec.onAck)
  const clients: BenchClient[] = []
  listeners.forEach((c, k) => { clients[listenerIndex[k]!] = c })
  for (const [i, m] of members.entries()) {
    if (!isSender(i)) continue
    const other = urls[(groupOf(i) + 1) % 2]!
    clients[i] = {
      ready: Promise.resolve(),
      send (room, id, content) {
        void fetch(`${other}/v1/conversations/${room}/messages`, { method: 'POST', headers: { authorization: `Bearer ${m.user.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ content, clientMessageId: id }) })
          .then(async (res) => { await res.arrayBuffer(); if (res.status === 201) rec.onAck(id) }, () => {})
      },
      close () {}
    }
  }
  log(`split: ${listeners.length} listeners in ${spec.groups} groups over two nodes`)
  // The orchestrator reads the nodes' counters between the setup and the traffic.
  await readyThenWait()
  const slots = rooms.map((room, g) => ({ sender: g * spec.members, room }))
  const r = await traffic(clients, members, slots, spec.rate, spec.seconds, input.contentBytes, 'split', state)
  log(`split ${spec.rate}/s: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, exactly once ${r.exactlyOnce}`)
  await readyThenWait()
  for (const c of listeners) c.close()
  // Sends go to the groups in turn (traffic's slots): group g gets the k-th sends with k % groups = g.
  const sentTo = (g: number) => Math.floor(r.sent / spec.groups) + (g < r.sent % spec.groups ? 1 : 0)
  return { groups: spec.groups, members: spec.members, sentPerNodeGroups: [0, 1].map((n) => rooms.reduce((sum, _, g) => sum + (g % 2 === n ? sentTo(g) : 0), 0)), ...r }
}

/** Says READY and waits for the orchestrator's line (it measures the server meanwhile). */
async function readyThenWait (): Promise<void> {
  process.stdout.write('READY\n')
  const rl = createInterface({ input: process.stdin })
  await new Promise<void>((resolve) => rl.once('line', () => resolve()))
  rl.close()
}

/** Connects idle sockets, says READY, holds them until the orchestrator (which measures the server) says done. */
async function idle (target: Target, spec: Extract<Spec, { scenario: 'idle' }>) {
  const users = await target.users(spec.users, 'i')
  const members: Member[] = Array.from({ length: spec.connections }, (_, i) => ({ user: users[i % users.length]!, rooms: [], url: target.urls[0]! }))
  const started = now()
  const clients = await connectAll(target, members, () => {}, () => {})
  const seconds = (now() - started) / 1000
  log(`idle: ${clients.length} sockets open in ${seconds.toFixed(1)} s`)
  await readyThenWait()
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

/** The server's CPU time so far (user + system, every node), from its own /metrics. */
async function serverCpuSeconds (urls: string[]): Promise<number> {
  let sum = 0
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith('process_cpu_seconds_total '))
    if (line === undefined) throw new Error(`${url}/metrics has no process_cpu_seconds_total`)
    sum += Number(line.split(' ')[1])
  }
  return sum
}

/**
 * A reaction's fan-out beside a message's, in one group: first messages from
 * one member at `rate` (websocket sends, as in the fan-out scenario), then
 * reactions at the same rate, each by a member over REST (on its own node),
 * each a real change (a user's first 👍 on a message). Both are checked
 * exactly once on every socket (a message reaches the others, a reaction
 * everyone), with the latency from the send (or the PUT) to each delivery
 * and the server's CPU time per delivery over each phase.
 */
async function reactions (target: Target, input: DriverInput, spec: Extract<Spec, { scenario: 'reactions' }>) {
  if (target.kind !== 'ours') throw new Error('the reactions scenario is ours only (the baselines have no reactions)')
  const users = await target.users(spec.members, 'r')
  const room = await target.room(users, 'react')
  const members: Member[] = users.map((user, i) => ({ user, rooms: [room], url: target.urls[i % target.urls.length]! }))
  const state = newState()
  const rec = recorder(state)
  const reacted = new Map<string, Set<number>>()
  const reactionSentAt = new Map<string, number>()
  const reactionHist = histogram()
  let reactionDup = 0
  let lastReactionAt = 0
  const clients = await connectAll(target, members, rec.onDelivery, rec.onAck, (index, key) => {
    const t = now()
    const sentAt = reactionSentAt.get(key)
    if (sentAt === undefined) return
    let set = reacted.get(key)
    if (set === undefined) reacted.set(key, (set = new Set()))
    if (set.has(index)) { reactionDup++; return }
    set.add(index)
    lastReactionAt = t
    reactionHist.recordValue(Math.max(1, Math.round((t - sentAt) * 1000)))
  })
  log(`reactions: ${clients.length} members connected`)
  const cpuPerDelivery = (cpu: number, deliveries: number) => Math.round((cpu / Math.max(1, deliveries)) * 1e7) / 10

  const cpu0 = await serverCpuSeconds(target.urls)
  const message = await traffic(clients, members, [{ sender: 0, room }], spec.rate, spec.seconds, input.contentBytes, 'rm', state)
  const messageCpu = (await serverCpuSeconds(target.urls)) - cpu0
  log(`reactions, messages first ${spec.rate}/s: p50 ${message.p50Ms} ms, p99 ${message.p99Ms} ms, exactly once ${message.exactlyOnce}`)

  // The messages to react to: one per (members - 1) reactions, each member reacting once to each.
  const total = Math.round(spec.rate * spec.seconds)
  const reactors = spec.members - 1
  const owner = users[0]!
  const targets = await pool(Array.from({ length: Math.ceil(total / reactors) }, (_, i) => i), 4, async (i) => {
    const res = await fetch(`${target.urls[0]}/v1/conversations/${room}/messages`, { method: 'POST', headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ content: `react to me ${i}`, clientMessageId: `rt-${i}` }) })
    if (!res.ok) throw new Error(`POST message: ${res.status} ${await res.text()}`)
    return ((await res.json()) as { id: string }).id
  })
  await sleep(1000)
  const emoji = '👍'
  let acked = 0
  let refused = ''
  const cpu1 = await serverCpuSeconds(target.urls)
  const start = now()
  const inFlight: Array<Promise<void>> = []
  for (let sent = 0; sent < total;) {
    const due = Math.min(total, Math.floor(((now() - start) / 1000) * spec.rate) + 1)
    for (; sent < due; sent++) {
      const u = 1 + (sent % reactors)
      const messageId = targets[Math.floor(sent / reactors)]!
      const key = reactionKey(messageId, users[u]!.id, emoji, true)
      reactionSentAt.set(key, now())
      inFlight.push((async () => {
        const res = await fetch(`${members[u]!.url}/v1/conversations/${room}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`, { method: 'PUT', headers: { authorization: `Bearer ${users[u]!.token}` } })
        await res.arrayBuffer()
        if (res.ok) acked++
        else refused = `${res.status}`
      })().catch((err) => { refused = String(err) }))
    }
    await sleep(2)
  }
  await Promise.all(inFlight)
  // Drain as the traffic does: until every reaction reached every member, or nothing moved for 3 s.
  let last = -1
  let stillSince = now()
  const deadline = now() + 180_000
  for (;;) {
    let got = 0
    for (const set of reacted.values()) got += set.size
    if (got >= acked * spec.members) break
    if (got !== last) { last = got; stillSince = now() }
    if (now() - stillSince > 3000 || now() > deadline) break
    await sleep(20)
  }
  const reactionCpu = (await serverCpuSeconds(target.urls)) - cpu1
  let deliveries = 0
  for (const set of reacted.values()) deliveries += set.size
  const expected = acked * spec.members
  const window = Math.max(1, (lastReactionAt - start) / 1000)
  const reaction = {
    offeredPerSecond: spec.rate,
    sent: total,
    acked,
    refused,
    deliveriesPerSecond: Math.round(deliveries / window),
    expectedDeliveries: expected,
    deliveries,
    missing: Math.max(0, expected - deliveries),
    duplicates: reactionDup,
    exactlyOnce: acked === total && deliveries === expected && reactionDup === 0,
    p50Ms: ms(reactionHist, 50),
    p99Ms: ms(reactionHist, 99),
    p999Ms: ms(reactionHist, 99.9),
    maxMs: Math.round(reactionHist.maxValue / 10) / 100
  }
  log(`reactions ${spec.rate}/s: p50 ${reaction.p50Ms} ms, p99 ${reaction.p99Ms} ms, exactly once ${reaction.exactlyOnce}${refused === '' ? '' : `, refused: ${refused}`}`)
  for (const c of clients) c.close()
  return {
    members: spec.members,
    message: { ...message, serverCpuSeconds: Math.round(messageCpu * 1000) / 1000, serverCpuUsPerDelivery: cpuPerDelivery(messageCpu, message.deliveries) },
    reaction: { ...reaction, serverCpuSeconds: Math.round(reactionCpu * 1000) / 1000, serverCpuUsPerDelivery: cpuPerDelivery(reactionCpu, deliveries) },
    exactlyOnce: message.exactlyOnce && reaction.exactlyOnce
  }
}

async function main () {
  const input = JSON.parse(process.argv[2] ?? '{}') as DriverInput
  const target = targetOf(input)
  const spec = input.spec
  let result: unknown
  if (spec.scenario === 'fanout') result = await fanout(target, input, spec)
  else if (spec.scenario === 'directs') result = await directs(target, input, spec)
  else if (spec.scenario === 'idle') result = await idle(target, spec)
  else if (spec.scenario === 'reactions') result = await reactions(target, input, spec)
  else if (spec.scenario === 'split') result = await split(target, input, spec)
  else result = await churn(target, input, spec)
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
  process.exit(0)
}


main().catch((err) => {
  log(String((err as Error).stack ?? err))
  process.exit(1)
})
