/**
 * The benchmarks, side by side: ours (memory adapters; MongoDB + Redis; two
 * nodes over Redis) against the raw `ws` limit and a Socket.IO peer, driven
 * by the same harness (bench/driver.ts, a process of its own) with the same
 * message size. Writes bench/RESULTS.md (its bench section) and
 * bench/results.json with every figure, the machine and the date.
 *
 *   npm run bench                    the full run (about 15 minutes on 2 cores)
 *   npm run bench -- --smoke         seconds; what the test suite runs
 *   npm run bench -- --out DIR       write results.json / RESULTS.md there instead
 *   npm run bench -- --only a,b      only these scenarios (fanout, fanout10, reactions, search, encryption, directs,
 *                                    directsLight, broker, churn, idle, history); the other figures are
 *                                    kept from the last results.json, and the page says which ran when
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { MongoClient, ObjectId } from 'mongodb'
import { FerretProcess, NodeProcess, RedisClusterProcess, RedisProcess, stopAll, type Restartable } from './lib/cluster.js'
import { runDriver } from './lib/drive.js'
import { inspect, rssBytes } from './lib/inspect.js'
import { pool } from './lib/targets.js'
import { apiOk } from './lib/workload.js'
import type { DriverInput, Spec } from './driver.js'
import { ensureRedisServer, ferretHarness, freePort, redisCli, root } from '../scripts/services.mjs'
import { searchWordsOf } from '../src/domain/search.js'
import { createKeyRing, parseKeyRing } from '../src/domain/keyring.js'

const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, out: { type: 'string' }, only: { type: 'string' } } })
const smoke = values.smoke === true
const outDir = values.out ?? join(root, 'bench')
const only = values.only?.split(',')
const want = (name: string) => only === undefined || only.includes(name)
const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`)
const runId = Date.now().toString(36)
const CONTENT_BYTES = 100
/** Each driver run registers users of its own: this numbers their names. */
let drives = 0

/** Sizes: the issue's for the full run, tiny ones for the smoke run. */
const SIZES = smoke
  ? { fanout: { members: 5, rates: [50, 100], stepSeconds: 1 }, fanout10: { rate: 100, seconds: 1 }, directs: { pairs: 5, rate: 50, seconds: 1 }, directsLight: { pairs: 5, rate: 20, seconds: 1 }, idle: { connections: 40, users: 2 }, churn: { seconds: 1, concurrency: 2 }, history: { messages: 100, seconds: 1 }, reactions: { members: 5, rate: 20, storeRate: 10, seconds: 1 }, search: { conversations: 4, messages: 120, queries: 8, storeQueries: 4 }, encryption: { messages: 100, requests: 5 }, crossFanout: { members: 6, rate: 20, seconds: 1 }, split: { groups: 4, members: 3, rate: 20, seconds: 1 } }
  : { fanout: { members: 100, rates: [100, 250, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000, 4000, 6000, 8000], stepSeconds: 5 }, fanout10: { rate: 1000, seconds: 10 }, directs: { pairs: 500, rate: 500, seconds: 10 }, directsLight: { pairs: 500, rate: 50, seconds: 20 }, idle: { connections: 10_000, users: 100 }, churn: { seconds: 10, concurrency: 20 }, history: { messages: 100_000, seconds: 10 }, reactions: { members: 100, rate: 100, storeRate: 20, seconds: 10 }, search: { conversations: 100, messages: 100_000, queries: 100, storeQueries: 10 }, encryption: { messages: 10_000, requests: 50 }, crossFanout: { members: 50, rate: 40, seconds: 10 }, split: { groups: 12, members: 10, rate: 40, seconds: 10 } }

const BASE_ENV = { RATE_LIMITS: 'off', LOG_LEVEL: 'warn', ACCESS_TOKEN_TTL_SECONDS: '86400', WS_MAX_CONNECTIONS_PER_IP: '1000000' }

interface Server { name: string, procs: NodeProcess[], inspectPort: number, kind: DriverInput['kind'] }

/** Runs the driver on one scenario; for idle, measures the server while the sockets are held. */
async function drive (server: Server, spec: Spec, urls = server.procs.map((p) => p.baseUrl), atReady: Array<() => Promise<void>> = []): Promise<Record<string, unknown>> {
  const input: DriverInput = { kind: server.kind, urls, runId: `${runId}${++drives}`, contentBytes: CONTENT_BYTES, spec }
  let measured: Record<string, unknown> = {}
  const probe = spec.scenario === 'idle' ? await inspect(server.inspectPort) : undefined
  const pid = server.procs[0]!.pid!
  if (probe !== undefined) await probe.gc()
  const rssBefore = rssBytes(pid)
  // Each READY the driver says (a scenario that waits for the orchestrator) runs the next of atReady, then lets it go on.
  let readied = 0
  const watch = (out: string, child: ChildProcess) => {
    const said = out.split('READY\n').length - 1
    while (atReady.length > 0 && readied < said) {
      const hook = atReady[readied++]
      void (hook ?? (async () => {}))().finally(() => child.stdin?.write('go\n'))
    }
    if (probe !== undefined && out.includes('READY\n') && Object.keys(measured).length === 0) {
      measured = { pending: true }
      void (async () => {
        await new Promise((resolve) => setTimeout(resolve, smoke ? 500 : 5000))
        await probe.gc()
        const rssAfter = rssBytes(pid)
        const loop = await probe.eventLoopDelay(smoke ? 1000 : 10_000)
        const connections = (spec as Extract<Spec, { scenario: 'idle' }>).connections
        measured = { rssBeforeMb: Math.round(rssBefore / 2 ** 20), rssAfterMb: Math.round(rssAfter / 2 ** 20), rssPerConnectionKb: Math.round((rssAfter - rssBefore) / connections / 102.4) / 10, eventLoopDelayP99Ms: Math.round(loop.p99 * 100) / 100, eventLoopDelayMaxMs: Math.round(loop.max * 100) / 100 }
        child.stdin?.write('done\n')
      })().catch((err) => { log(`idle probe failed: ${(err as Error).message}`); child.stdin?.write('done\n') })
    }
  }
  try {
    return { ...await runDriver(input, watch), ...measured }
  } catch (err) {
    throw new Error(`${server.name}: ${(err as Error).message}`)
  } finally {
    probe?.close()
  }
}

/**
 * Mean duration and count of each store operation since the server started,
 * from its own /metrics: where a send's time goes when the store is the limit.
 */
async function storeProfile (server: Server): Promise<Record<string, { count: number, meanMs: number }>> {
  const text = await (await fetch(`${server.procs[0]!.baseUrl}/metrics`)).text()
  const sums = new Map<string, number>()
  const counts = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^store_operation_duration_seconds_(sum|count)\{([^}]*)\} ([\d.e+-]+)/.exec(line)
    if (m === null) continue
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (labels.outcome !== 'ok') continue
    const key = `${labels.repository}.${labels.operation}`
    const map = m[1] === 'sum' ? sums : counts
    map.set(key, (map.get(key) ?? 0) + Number(m[3]))
  }
  return Object.fromEntries([...counts].filter(([, n]) => n > 0).map(([k, n]) => [k, { count: n, meanMs: Math.round(((sums.get(k) ?? 0) / n) * 100000) / 100 }]))
}

/** A counter's value summed over the server's nodes, from their /metrics. */
async function counterSum (server: Server, name: string): Promise<number> {
  let sum = 0
  for (const p of server.procs) {
    const text = await (await fetch(`${p.baseUrl}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith(`${name} `))
    sum += Number(line?.split(' ')[1] ?? 0)
  }
  return sum
}

/** Each node's broker counters by channel kind (broker_published_total, broker_received_total), from its /metrics. */
async function brokerByNode (server: Server): Promise<Array<{ published: Record<string, number>, received: Record<string, number> }>> {
  return Promise.all(server.procs.map(async (p) => {
    const text = await (await fetch(`${p.baseUrl}/metrics`)).text()
    const out = { published: {} as Record<string, number>, received: {} as Record<string, number> }
    for (const m of text.matchAll(/^broker_(published|received)_total\{channel="(\w+)"\} ([\d.e+-]+)$/gm)) out[m[1] as 'published' | 'received'][m[2]!] = Number(m[3])
    return out
  }))
}

/** The publications each master of the Redis Cluster has sent over the cluster bus, classic and sharded (a sharded one goes to the master's replica only). */
function shardStats (cluster: RedisClusterProcess): Array<{ port: number, busPublish: number, busPublishShard: number, commands: Record<string, number> }> {
  return cluster.ports.filter((port) => /role:master/.test(redisCli(port, 'info', 'replication'))).map((port) => {
    const info = redisCli(port, 'cluster', 'info')
    const counter = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1] ?? 0)
    const commands = Object.fromEntries([...redisCli(port, 'info', 'commandstats').matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]))
    return { port, busPublish: counter('cluster_stats_messages_publish_sent'), busPublishShard: counter('cluster_stats_messages_publishshard_sent'), commands }
  })
}

/** Store operations by name, summed over the server's nodes (their /metrics). */
async function storeCounts (server: Server): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const p of server.procs) {
    const text = await (await fetch(`${p.baseUrl}/metrics`)).text()
    for (const m of text.matchAll(/^store_operation_duration_seconds_count\{([^}]*)\} ([\d.e+-]+)$/gm)) {
      const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
      const key = `${labels.repository}.${labels.operation}`
      out[key] = (out[key] ?? 0) + Number(m[2])
    }
  }
  return out
}

/**
 * Two nodes (over one Redis or a Redis Cluster): the fan-out with members on
 * both nodes, then the split groups, with what each node's broker published
 * and received during the split, and on a cluster what each shard held and
 * sent over the cluster bus.
 */
async function twoNodeBroker (server: Server, cluster?: RedisClusterProcess): Promise<Record<string, unknown>> {
  const fanoutCrossNode = await drive(server, { scenario: 'fanout', members: SIZES.crossFanout.members, rates: [SIZES.crossFanout.rate], stepSeconds: SIZES.crossFanout.seconds, p99LimitMs: 1e9 })
  // Counters read once the split's users, groups and sockets are set up, right before its traffic, and right after it.
  let before: Awaited<ReturnType<typeof brokerByNode>> = []
  let storeBefore: Record<string, number> = {}
  let shardsBefore: ReturnType<typeof shardStats> | undefined
  let after: Awaited<ReturnType<typeof brokerByNode>> = []
  let storeAfter: Record<string, number> = {}
  let shardsAfter: ReturnType<typeof shardStats> | undefined
  const split = await drive(server, { scenario: 'split', ...SIZES.split }, undefined, [async () => {
    before = await brokerByNode(server)
    storeBefore = await storeCounts(server)
    shardsBefore = cluster === undefined ? undefined : shardStats(cluster)
  }, async () => {
    after = await brokerByNode(server)
    storeAfter = await storeCounts(server)
    shardsAfter = cluster === undefined ? undefined : shardStats(cluster)
  }])
  const sent = split.acked as number
  const perMessage = (n: number) => Math.round((n / Math.max(1, sent)) * 100) / 100
  const storeOpsPerMessage = Object.fromEntries(Object.entries(storeAfter).map(([k, v]) => [k, perMessage(v - (storeBefore[k] ?? 0))]).filter(([, v]) => (v as number) > 0))
  const delta = (k: 'published' | 'received', n: number) => Object.fromEntries(Object.entries(after[n]![k]).map(([c, v]) => [c, v - (before[n]![k][c] ?? 0)]))
  const nodes = [0, 1].map((n) => ({ published: delta('published', n), received: delta('received', n) }))
  const shards = shardsAfter?.map((s, i) => ({ ...s, busPublish: s.busPublish - (shardsBefore![i]?.busPublish ?? 0), busPublishShard: s.busPublishShard - (shardsBefore![i]?.busPublishShard ?? 0), commands: Object.fromEntries(Object.entries(s.commands).map(([c, n]) => [c, n - (shardsBefore![i]?.commands[c] ?? 0)]).filter(([, n]) => (n as number) > 0)) }))
  // Redis commands per message by command, over the masters, less the bench's own readings (INFO and CLUSTER INFO).
  const redisCommandsPerMessage = shards === undefined
    ? undefined
    : Object.fromEntries([...new Set(shards.flatMap((x) => Object.keys(x.commands)))].filter((c) => c !== 'info' && c !== 'cluster|info').map((c) => [c, perMessage(shards.reduce((n, x) => n + (x.commands[c] ?? 0), 0))]))
  log(`${server.name}: split groups, conversation messages received per node ${nodes.map((n) => n.received.conversation ?? 0).join(' / ')} of ${(split.sentPerNodeGroups as number[]).join(' / ')} sent into each node's groups`)
  return { fanoutCrossNode, split: { ...split, nodes, storeOpsPerMessage, ...(shards !== undefined && { shards, redisCommandsPerMessage }) } }
}

/** Two users registered for one scenario on `base`, the first one's token, and a POST helper (tag: their names' suffix). */
async function twoUsers (base: string, tag: string) {
  const post = (path: string, body: unknown, token?: string) => apiOk<Record<string, unknown>>([base], token, 'POST', path, body)
  const names = ['1', '2'].map((n) => `b${runId}${++drives}${tag}${n}`)
  const [a, b] = await Promise.all(names.map((name) => post('/v1/auth/register', { username: name, email: `${name}@bench.test`, password: 'bench password 1' })))
  return { post, names, token: a!.accessToken as string, aId: (a!.user as { id: string }).id, bId: (b!.user as { id: string }).id }
}

async function history (server: Server, mongoUrl: string | undefined): Promise<Record<string, unknown>> {
  const base = server.procs[0]!.baseUrl
  const { post, token, aId, bId } = await twoUsers(base, 'h')
  const conversation = await post('/v1/conversations', { type: 'direct', participantIds: [bId] }, token)
  const id = conversation.id as string
  const total = SIZES.history.messages
  const started = Date.now()
  const content = 'x'.repeat(CONTENT_BYTES)
  if (mongoUrl === undefined) {
    // The memory store can only be filled through the server: REST sends, 32 at a time.
    await pool(Array.from({ length: total }, (_, i) => i), 32, async (i) => { await post(`/v1/conversations/${id}/messages`, { content, clientMessageId: `h${i}` }, token) })
  } else {
    // On MongoDB: documents of the shape the repository writes, inserted directly (REST would take minutes on FerretDB).
    const client = new MongoClient(mongoUrl)
    const db = client.db('chat')
    const senderId = aId
    for (let from = 1; from <= total; from += 5000) {
      const docs = Array.from({ length: Math.min(5000, total - from + 1) }, (_, k) => ({ _id: new ObjectId(), conversationId: id, seq: from + k, senderId, content, contentType: 'text', attachments: [], clientMessageId: `h${from + k}`, sentAt: new Date() }))
      await db.collection('messages').insertMany(docs, { ordered: false })
    }
    await db.collection('conversations').updateOne({ _id: new ObjectId(id) }, { $set: { lastSeq: total } })
    await client.close()
  }
  log(`history: ${total} messages seeded in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  // One request alone first: what a page costs without queueing.
  const single = async (path: string) => {
    const t0 = performance.now()
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } })
    await res.text()
    return Math.round(performance.now() - t0)
  }
  const alone = { newestMs: await single(`/v1/conversations/${id}/messages?limit=50`), middleMs: await single(`/v1/conversations/${id}/messages?limit=50&beforeSeq=${Math.floor(total / 2)}`) }
  const run = (path: string) => autocannon({ url: base + path, connections: smoke ? 4 : 50, duration: SIZES.history.seconds, headers: { authorization: `Bearer ${token}` } })
  const newest = await run(`/v1/conversations/${id}/messages?limit=50`)
  const middle = await run(`/v1/conversations/${id}/messages?limit=50&beforeSeq=${Math.floor(total / 2)}`)
  const figures = (r: autocannon.Result) => ({ requestsPerSecond: Math.round(r.requests.average), p50Ms: r.latency.p50, p99Ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors })
  return { messages: total, alone, newestPage: figures(newest), middlePage: figures(middle) }
}

/** A made-up vocabulary: 2,000 words, the first ones far more common than the last (as in real text). */
const VOCABULARY = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}x`)
function sentence (n: number): string {
  const words: string[] = []
  for (let k = 0; k < 8; k++) words.push(VOCABULARY[Math.floor(((n * 7919 + k * 104_729) % 1_000_003) / 1_000_003 * VOCABULARY.length * ((n + k) % 3 === 0 ? 0.1 : 1))]!)
  return words.join(' ')
}

/**
 * Search over a user's conversations: messages of 8 words from the
 * vocabulary, spread over the conversations, then queries of each kind one
 * after another (no queueing: what one search costs): one common word, two
 * words, a phrase, from: alone. On FerretDB fewer queries (each reads the
 * collection: it uses no index for them).
 */
async function searchBench (server: Server, mongoUrl: string | undefined): Promise<Record<string, unknown>> {
  const base = server.procs[0]!.baseUrl
  const { post, names, token, aId, bId } = await twoUsers(base, 's')
  const ids = await pool(Array.from({ length: SIZES.search.conversations }, (_, i) => i), 8, async (i) => (await post('/v1/conversations', { type: 'group', name: `search ${i}`, participantIds: [bId] }, token)).id as string)
  const total = SIZES.search.messages
  const started = Date.now()
  if (mongoUrl === undefined) {
    await pool(Array.from({ length: total }, (_, i) => i), 32, async (i) => { await post(`/v1/conversations/${ids[i % ids.length]}/messages`, { content: sentence(i), clientMessageId: `s${i}` }, token) })
  } else {
    const client = new MongoClient(mongoUrl)
    const coll = client.db('chat').collection('messages')
    const senderId = aId
    const perConversation = Math.ceil(total / ids.length)
    for (let from = 0; from < total; from += 5000) {
      const docs = Array.from({ length: Math.min(5000, total - from) }, (_, k) => {
        const i = from + k
        const content = sentence(i)
        return { _id: new ObjectId(), conversationId: ids[i % ids.length]!, seq: Math.floor(i / ids.length) + 1, senderId, content, contentType: 'text', attachments: [], clientMessageId: `s${i}`, sentAt: new Date(started - (total - i) * 1000), version: Math.floor(i / ids.length) + 1, words: searchWordsOf(content) }
      })
      await coll.insertMany(docs, { ordered: false })
    }
    // One at a time: a hundred concurrent updates of one collection have left FerretDB 1.24 waiting for good.
    for (const id of ids) await client.db('chat').collection('conversations').updateOne({ _id: new ObjectId(id) }, { $set: { lastSeq: perConversation } })
    await client.close()
  }
  log(`search: ${total} messages in ${ids.length} conversations seeded in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  const n = mongoUrl === undefined ? SIZES.search.queries : SIZES.search.storeQueries
  const kinds: Record<string, (i: number) => string> = {
    oneWord: (i) => VOCABULARY[i % 50]!,
    twoWords: (i) => sentence(i * 13).split(' ').slice(0, 2).join(' '),
    phrase: (i) => `"${sentence(i * 17).split(' ').slice(2, 4).join(' ')}"`,
    fromOnly: () => `from:${names[0]}`
  }
  const out: Record<string, { queries: number, p50Ms: number, p99Ms: number, meanHits: number }> = {}
  for (const [kind, q] of Object.entries(kinds)) {
    const times: number[] = []
    let hits = 0
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const res = await fetch(`${base}/v1/search/messages?q=${encodeURIComponent(q(i))}&limit=20`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(120_000) })
      const body = await res.json() as { items?: unknown[] }
      if (!res.ok) throw new Error(`search ${q(i)}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`)
      times.push(performance.now() - t0)
      hits += body.items?.length ?? 0
    }
    times.sort((x, y) => x - y)
    const at = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))]! * 100) / 100
    out[kind] = { queries: n, p50Ms: at(0.5), p99Ms: at(0.99), meanHits: Math.round((hits / n) * 10) / 10 }
    log(`search ${kind}: p50 ${out[kind].p50Ms} ms, p99 ${out[kind].p99Ms} ms over ${n} queries`)
  }
  return { messages: total, conversations: ids.length, ...out }
}

/** The bench's own key ring (made up for it; never a real deployment's). */
const BENCH_RING = `bench:${Buffer.alloc(32, 42).toString('base64')}`

/**
 * Sends and history with encryption at rest on or off (scenario 9): direct
 * conversations at a rate under the store's capacity (latency of each
 * delivery), then one conversation's newest page, asked one request at a
 * time. On MongoDB the history is seeded directly, encrypted as the server
 * would have stored it when encryption is on.
 */
async function encryptionBench (server: Server, mongoUrl: string | undefined, encrypted: boolean): Promise<Record<string, unknown>> {
  const send = await drive(server, { scenario: 'directs', ...(mongoUrl === undefined ? SIZES.directs : SIZES.directsLight) })
  const base = server.procs[0]!.baseUrl
  const { post, token, aId, bId } = await twoUsers(base, 'e')
  const id = (await post('/v1/conversations', { type: 'direct', participantIds: [bId] }, token)).id as string
  const total = SIZES.encryption.messages
  const content = 'x'.repeat(CONTENT_BYTES)
  if (mongoUrl === undefined) {
    await pool(Array.from({ length: total }, (_, i) => i), 32, async (i) => { await post(`/v1/conversations/${id}/messages`, { content, clientMessageId: `e${i}` }, token) })
  } else {
    const ring = createKeyRing(parseKeyRing(BENCH_RING))
    const client = new MongoClient(mongoUrl)
    const senderId = aId
    const docs = Array.from({ length: total }, (_, k) => {
      const _id = new ObjectId()
      return { _id, conversationId: id, seq: k + 1, version: k + 1, senderId, content: encrypted ? ring.encrypt(content, `message:${_id.toHexString()}:content`) : content, contentType: 'text', attachments: [], clientMessageId: `e${k}`, sentAt: new Date() }
    })
    for (let from = 0; from < total; from += 5000) await client.db('chat').collection('messages').insertMany(docs.slice(from, from + 5000), { ordered: false })
    await client.db('chat').collection('conversations').updateOne({ _id: new ObjectId(id) }, { $set: { lastSeq: total } })
    await client.close()
  }
  const times: number[] = []
  for (let i = 0; i < SIZES.encryption.requests; i++) {
    const t0 = performance.now()
    const res = await fetch(`${base}/v1/conversations/${id}/messages?limit=50`, { headers: { authorization: `Bearer ${token}` } })
    const page = await res.json() as { items: Array<{ content: string }> }
    if (!res.ok || page.items.length !== 50 || page.items[0]!.content !== content) throw new Error(`history page: ${res.status}, ${page.items?.length} items`)
    times.push(performance.now() - t0)
  }
  times.sort((x, y) => x - y)
  const at = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))]! * 100) / 100
  log(`encryption ${encrypted ? 'on' : 'off'}: sends p50 ${send.p50Ms as number} ms, p99 ${send.p99Ms as number} ms; history page p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`)
  return { encrypted, send, history: { messages: total, requests: times.length, p50Ms: at(0.5), p99Ms: at(0.99) }, exactlyOnce: send.exactlyOnce }
}

async function main () {
  ensureRedisServer(log)
  const harness = await ferretHarness(log)
  const redis = await RedisProcess.start()
  const redisCluster = await RedisClusterProcess.start()
  const database = `chat_bench_${runId}`
  const db = await FerretProcess.start(database, harness)
  const started: Restartable[] = [redis, redisCluster, db]
  const cleanup = async () => { await stopAll(started); await db.dropDatabases([database]) }
  process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)) })

  const mongoEnv = { MONGODB_URL: db.url, REDIS_URL: redis.url }
  const servers: Array<{ name: string, kind: DriverInput['kind'], nodes: number, env: Record<string, string>, script?: string, mongo: boolean, encrypted?: boolean, redisCluster?: boolean }> = [
    { name: 'ws limit', kind: 'ws', nodes: 1, env: {}, script: join(root, 'bench', 'baselines', 'ws-server.ts'), mongo: false },
    { name: 'Socket.IO peer', kind: 'socketio', nodes: 1, env: { ...mongoEnv, MONGODB_DB: `sio_${runId}` }, script: join(root, 'bench', 'baselines', 'socketio-server.ts'), mongo: true },
    { name: 'ours (memory)', kind: 'ours', nodes: 1, env: BASE_ENV, mongo: false },
    // Encryption at rest on: scenario 9 alone, beside the same scenario on the servers without it.
    { name: 'ours (memory, encrypted)', kind: 'ours', nodes: 1, env: { ...BASE_ENV, ENCRYPTION_KEYS: BENCH_RING }, mongo: false, encrypted: true },
    { name: 'ours (mongo+redis, encrypted)', kind: 'ours', nodes: 1, env: { ...BASE_ENV, ...mongoEnv, ENCRYPTION_KEYS: BENCH_RING }, mongo: true, encrypted: true },
    // Two nodes before one: the history run (last on one node) leaves FerretDB busy for minutes
    // with the queries of requests that timed out, and scenario 6 must follow no such load.
    { name: 'ours (2 nodes)', kind: 'ours', nodes: 2, env: { ...BASE_ENV, ...mongoEnv }, mongo: true },
    // The same two nodes on a Redis Cluster of three masters (sharded pub/sub): the broker scenarios only.
    { name: 'ours (2 nodes, Redis Cluster)', kind: 'ours', nodes: 2, env: { ...BASE_ENV, MONGODB_URL: db.url, REDIS_CLUSTER_NODES: redisCluster.seeds }, mongo: true, redisCluster: true },
    { name: 'ours (mongo+redis)', kind: 'ours', nodes: 1, env: { ...BASE_ENV, ...mongoEnv }, mongo: true }
  ]
  const results: Record<string, Record<string, unknown>> = {}
  for (const s of servers) {
    const inspectPort = await freePort()
    log(`starting ${s.name}`)
    const procs: NodeProcess[] = []
    for (let i = 0; i < s.nodes; i++) {
      procs.push(await NodeProcess.start(`${s.name} ${i}`, s.env, {
        ...(s.script !== undefined && { script: s.script, anyAnswer: true }),
        ...(i === 0 && { nodeArgs: [`--inspect=127.0.0.1:${inspectPort}`] })
      }))
    }
    started.push(...procs)
    const server: Server = { name: s.name, procs, inspectPort, kind: s.kind }
    const r: Record<string, unknown> = {}
    try {
      // Scenario 6 compares directs under the store's capacity on one node and across
      // two: each runs first on its servers, so that neither follows an overload.
      if (s.encrypted === true) {
        if (want('encryption')) r.encryption = await encryptionBench(server, s.mongo ? db.url : undefined, true)
      } else if (s.redisCluster === true) {
        if (want('broker')) Object.assign(r, await twoNodeBroker(server, redisCluster))
      } else if (s.nodes === 2) {
        if (want('broker')) Object.assign(r, await twoNodeBroker(server))
        if (want('directsLight')) r.directsLightCrossNode = await drive(server, { scenario: 'directs', ...SIZES.directsLight, crossNode: true })
        if (want('directs')) r.directsCrossNode = await drive(server, { scenario: 'directs', ...SIZES.directs, crossNode: true })
        r.seqConflicts = await counterSum(server, 'message_seq_conflicts_total')
      } else {
        if (want('directsLight') && s.kind === 'ours' && s.mongo) r.directsLight = await drive(server, { scenario: 'directs', ...SIZES.directsLight })
        if (want('fanout')) r.fanout = await drive(server, { scenario: 'fanout', ...SIZES.fanout, p99LimitMs: 200 })
        if (want('fanout') && s.kind === 'ours') r.storeAfterFanout = await storeProfile(server)
        // On FerretDB at a fifth of the rate: each reaction is its own writes (no group commit), and 100/s is past its capacity.
        if (want('reactions') && s.kind === 'ours') r.reactions = await drive(server, { scenario: 'reactions', members: SIZES.reactions.members, seconds: SIZES.reactions.seconds, rate: s.mongo ? SIZES.reactions.storeRate : SIZES.reactions.rate })
        if (want('fanout10')) r.fanout10 = await drive(server, { scenario: 'fanout', members: 11, rates: [SIZES.fanout10.rate], stepSeconds: SIZES.fanout10.seconds, p99LimitMs: 1e9 })
        if (want('directs')) r.directs = await drive(server, { scenario: 'directs', ...SIZES.directs })
        if (want('churn')) r.churn = await drive(server, { scenario: 'churn', ...SIZES.churn })
        if (want('idle')) r.idle = await drive(server, { scenario: 'idle', ...SIZES.idle })
        if (want('encryption') && s.kind === 'ours') r.encryption = await encryptionBench(server, s.mongo ? db.url : undefined, false)
        if (want('search') && s.kind === 'ours') r.search = await searchBench(server, s.mongo ? db.url : undefined)
        if (want('history') && s.kind === 'ours') r.history = await history(server, s.mongo ? db.url : undefined)
      }
    } finally {
      await stopAll(procs)
    }
    results[s.name] = r
  }
  await cleanup()
  write(results)
}

type Figures = Record<string, Record<string, any>> // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * With --only, the figures of the scenarios that did not run come from the
 * last results.json (when it was a run of the same kind, full or smoke, on
 * the same machine), and
 * `partial` lists the scenarios re-run, with their date.
 */
function merged (fresh: Figures, date: string, machine: Record<string, unknown>): { results: Figures, date: string, partial?: Array<{ date: string, only: string[] }> } {
  const file = join(outDir, 'results.json')
  if (only === undefined || !existsSync(file)) return { results: fresh, date }
  const previous = JSON.parse(readFileSync(file, 'utf8')) as { date: string, smoke: boolean, machine: Record<string, unknown>, results: Figures, partial?: Array<{ date: string, only: string[] }> }
  if (previous.smoke !== smoke || JSON.stringify(previous.machine) !== JSON.stringify(machine)) {
    log('the last results.json is of another kind of run or another machine: only the figures of this run are written')
    return { results: fresh, date }
  }
  const results: Figures = { ...previous.results }
  for (const [name, figures] of Object.entries(fresh)) results[name] = { ...results[name], ...figures }
  return { results, date: previous.date, partial: [...(previous.partial ?? []), { date, only }] }
}

function write (fresh: Figures) {
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version }
  const { results, date, partial } = merged(fresh, new Date().toISOString(), machine)
  mkdirSync(outDir, { recursive: true })
  writeFileSync(join(outDir, 'results.json'), JSON.stringify({ date, ...(partial !== undefined && { partial }), smoke, machine, contentBytes: CONTENT_BYTES, sizes: SIZES, results }, null, 2) + '\n')
  const reran = partial === undefined ? '' : ` (re-run since, alone: ${partial.map((p) => `${p.only.join(', ')} on ${p.date.slice(0, 10)}`).join('; ')})`
  const ws = results['ws limit'] ?? {}
  const sio = results['Socket.IO peer'] ?? {}
  const mem = results['ours (memory)'] ?? {}
  const mr = results['ours (mongo+redis)'] ?? {}
  const two = results['ours (2 nodes)'] ?? {}
  const twoCluster = results['ours (2 nodes, Redis Cluster)'] ?? {}
  const ratio = (a?: number, b?: number) => (a === undefined || b === undefined || b === 0 ? 'n/a' : (a / b).toFixed(2))
  const once = Object.values(results).flatMap((r) => Object.values(r)).flatMap((x) => x?.steps ?? [x]).filter((x) => x?.exactlyOnce !== undefined)
  const allOnce = once.every((x) => x.exactlyOnce === true)
  const row = (name: string, r: Figures[string]) => r.fanout === undefined ? '' : `| ${name} | ${r.fanout.bestDeliveredMessagesPerSecond} | ${r.fanout.steps.map((s: Record<string, number>) => `${s.offeredPerSecond}: ${s.p50Ms}/${s.p99Ms}`).join(', ')} | ${r.fanout.exactlyOnce ? 'yes' : 'NO'} |`
  const direct = (name: string, r?: Record<string, number | boolean>) => r === undefined ? '' : `| ${name} | ${r.offeredPerSecond} | ${r.acked} | ${r.p50Ms} | ${r.p99Ms} | ${r.exactlyOnce ? 'yes' : 'NO'} |`
  const idle = (name: string, r?: Record<string, number>) => r === undefined ? '' : `| ${name} | ${r.connections} | ${r.rssPerConnectionKb} KB | ${r.eventLoopDelayP99Ms} ms | ${r.connectSeconds} s |`
  const churn = (name: string, r?: Record<string, number>) => r === undefined ? '' : `| ${name} | ${r.connectsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.failed} |`
  const lines = (...rows: string[]) => rows.filter((r) => r !== '').join('\n')
  const section = `<!-- bench:start -->
## Benchmarks side by side${smoke ? ' (smoke run: tiny sizes, figures mean nothing)' : ''}

\`npm run bench\` on ${date.slice(0, 10)}${reran}: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GB, Node ${machine.node}. Every server is a process of its own and the load comes from another (bench/driver.ts): open-loop senders at a fixed offered rate, ${CONTENT_BYTES}-byte messages, latency from send to receive per delivered message in an HDR histogram, and a check that each message reached each intended socket exactly once. MongoDB is FerretDB 1.24 on PostgreSQL (both ours and the Socket.IO peer, one insert per message); Redis 7. All figures: \`bench/results.json\`.

Exactly once in every run: **${allOnce ? 'yes' : 'NO'}** (${once.length} runs checked).

### 1. Fan-out: one conversation of ${SIZES.fanout.members}, one sender, rising rates
Best delivered messages/s with p99 under 200 ms, then p50/p99 ms per offered rate (a step ends the ramp when p99 passes 200 ms or deliveries fall 10% behind).

| server | best msgs/s | offered/s: p50/p99 ms | exactly once |
|---|---|---|---|
${lines(row('ws limit', ws), row('Socket.IO peer (mongo+redis)', sio), row('ours (memory)', mem), row('ours (mongo+redis)', mr))}

Ratios: ours (memory) / ws limit = **${ratio(mem.fanout?.bestDeliveredMessagesPerSecond, ws.fanout?.bestDeliveredMessagesPerSecond)}** (goal ≥ 0.6); ours (mongo+redis) / Socket.IO peer = **${ratio(mr.fanout?.bestDeliveredMessagesPerSecond, sio.fanout?.bestDeliveredMessagesPerSecond)}** (goal ≥ 1.0).

Fan-out 10 at ${SIZES.fanout10.rate} msgs/s (goal: p99 under 50 ms): ${[['ws limit', ws], ['Socket.IO peer', sio], ['ours (memory)', mem], ['ours (mongo+redis)', mr]].map(([n, r]) => { const s = (r as Figures[string]).fanout10?.steps?.[0]; return s === undefined ? '' : `${n as string} p50 ${s.p50Ms} / p99 ${s.p99Ms} ms` }).filter((x) => x !== '').join('; ')}.

### 7. A reaction's fan-out beside a message's: one group of ${SIZES.reactions.members}, ${SIZES.reactions.seconds} s each
Messages from one member over the websocket (to the ${SIZES.reactions.members - 1} others), then reactions at the same rate (${SIZES.reactions.rate}/s on memory, ${SIZES.reactions.storeRate}/s on MongoDB + Redis, under FerretDB's capacity for reactions), each a member's first 👍 on a message over REST (to all ${SIZES.reactions.members}: the reaction frame goes to the reactor's devices too). Latency from the send (the PUT) to each delivery; the server's CPU time (user + system, from its \`process_cpu_seconds_total\`) over each phase, per delivery.

| server | event | per second | deliveries | p50 ms | p99 ms | server CPU per delivery | exactly once |
|---|---|---|---|---|---|---|---|
${lines(...[['ours (memory)', mem], ['ours (mongo+redis)', mr]].flatMap(([n, r]) => { const x = (r as Figures[string]).reactions; return x === undefined ? [] : (['message', 'reaction'] as const).map((k) => `| ${n as string} | ${k} | ${x[k].offeredPerSecond} | ${x[k].deliveries} | ${x[k].p50Ms} | ${x[k].p99Ms} | ${x[k].serverCpuUsPerDelivery} µs | ${x[k].exactlyOnce ? 'yes' : 'NO'} |`) }))}

Reaction / message CPU per delivery: ${[['ours (memory)', mem], ['ours (mongo+redis)', mr]].map(([n, r]) => { const x = (r as Figures[string]).reactions; return x === undefined ? '' : `${n as string} **${ratio(x.reaction.serverCpuUsPerDelivery, x.message.serverCpuUsPerDelivery)}**` }).filter((x) => x !== '').join('; ') || 'n/a'}.

### 8. Search over ${SIZES.search.messages} messages in ${SIZES.search.conversations} conversations
One user in every conversation; messages of 8 words from a made-up vocabulary of 2,000 (some words far more common than others); queries one after another (what one search costs, no queueing), 20 hits a page: ${SIZES.search.queries} of each kind on memory, ${SIZES.search.storeQueries} on MongoDB (FerretDB).

| server | query | p50 ms | p99 ms | hits per page |
|---|---|---|---|---|
${lines(...[['ours (memory)', mem], ['ours (mongo+redis)', mr]].flatMap(([n, r]) => { const x = (r as Figures[string]).search; return x === undefined ? [] : (['oneWord', 'twoWords', 'phrase', 'fromOnly'] as const).map((k) => `| ${n as string} | ${({ oneWord: 'one common word', twoWords: 'two words', phrase: 'a phrase', fromOnly: 'from: alone' })[k]} | ${x[k].p50Ms} | ${x[k].p99Ms} | ${x[k].meanHits} |`) }))}

### 9. Encryption at rest on beside off
Sends: ${SIZES.directs.pairs} direct pairs at ${SIZES.directs.rate}/s on memory, at ${SIZES.directsLight.rate}/s on MongoDB (under its capacity), latency to each delivery. History: one conversation of ${SIZES.encryption.messages} messages, its newest page of 50, ${SIZES.encryption.requests} requests one after another.

| server | encryption | sends p50 ms | sends p99 ms | history page p50 ms | history page p99 ms |
|---|---|---|---|---|---|
${lines(...([['ours (memory)', mem, 'off'], ['ours (memory, encrypted)', results['ours (memory, encrypted)'] ?? {}, 'on'], ['ours (mongo+redis)', mr, 'off'], ['ours (mongo+redis, encrypted)', results['ours (mongo+redis, encrypted)'] ?? {}, 'on']] as Array<[string, Figures[string], string]>).map(([n, r, on]) => { const x = r.encryption; return x === undefined ? '' : `| ${n.replace(', encrypted', '')} | ${on} | ${x.send.p50Ms} | ${x.send.p99Ms} | ${x.history.p50Ms} | ${x.history.p99Ms} |` }))}

### 2. Direct conversations: ${SIZES.directs.pairs * 2} users in ${SIZES.directs.pairs} pairs
| server | offered msgs/s | acked | p50 ms | p99 ms | exactly once |
|---|---|---|---|---|---|
${lines(direct('ws limit', ws.directs), direct('Socket.IO peer', sio.directs), direct('ours (memory)', mem.directs), direct('ours (mongo+redis)', mr.directs), direct('ours, 2 nodes, sender and receiver on different nodes', two.directsCrossNode))}

### 6. Two nodes over Redis
At ${SIZES.directsLight.rate} msgs/s (under the store's capacity): cross-node p50/p99 ${two.directsLightCrossNode?.p50Ms ?? 'n/a'}/${two.directsLightCrossNode?.p99Ms ?? 'n/a'} ms against ${mr.directsLight?.p50Ms ?? 'n/a'}/${mr.directsLight?.p99Ms ?? 'n/a'} ms on one node: **${two.directsLightCrossNode === undefined || mr.directsLight === undefined ? 'n/a' : (two.directsLightCrossNode.p99Ms - mr.directsLight.p99Ms).toFixed(2)} ms** extra p99 (goal ≤ 2 ms); exactly once ${two.directsLightCrossNode?.exactlyOnce === true && mr.directsLight?.exactlyOnce === true ? 'yes' : 'n/a or NO'}.
At ${SIZES.directs.rate} msgs/s both are over capacity: cross-node p50/p99 ${two.directsCrossNode?.p50Ms ?? 'n/a'}/${two.directsCrossNode?.p99Ms ?? 'n/a'} ms, one node ${mr.directs?.p50Ms ?? 'n/a'}/${mr.directs?.p99Ms ?? 'n/a'} ms; inserts that found their seq taken by the other node (both scenarios): ${two.seqConflicts ?? 'n/a'}.

### 10. Two nodes: one Redis beside a Redis Cluster (sharded pub/sub)
Fan-out across nodes: one conversation of ${SIZES.crossFanout.members}, members alternating between the nodes, one sender at ${SIZES.crossFanout.rate} msgs/s for ${SIZES.crossFanout.seconds} s. Split groups: ${SIZES.split.groups} groups of ${SIZES.split.members}, each group's listeners all on one node (even groups node 0, odd node 1) and its sender posting over REST to the other node, ${SIZES.split.rate} msgs/s for ${SIZES.split.seconds} s: each node should receive the publications of its own groups and of no other.

| server | fan-out across nodes p50/p99 ms | exactly once | split p50/p99 ms | exactly once | conversation messages each node received (its groups' share of the sends) |
|---|---|---|---|---|---|
${lines(...([['one Redis', two], ['Redis Cluster, 3 masters', twoCluster]] as Array<[string, Figures[string]]>).map(([n, r]) => r.split === undefined ? '' : `| ${n} | ${r.fanoutCrossNode.steps[0].p50Ms}/${r.fanoutCrossNode.steps[0].p99Ms} | ${r.fanoutCrossNode.exactlyOnce ? 'yes' : 'NO'} | ${r.split.p50Ms}/${r.split.p99Ms} | ${r.split.exactlyOnce ? 'yes' : 'NO'} | ${r.split.nodes.map((x: Record<string, Record<string, number>>, i: number) => `node ${i}: ${x.received!.conversation ?? 0} (${r.split.sentPerNodeGroups[i]})`).join(', ')} |`))}

On the cluster, during the split: ${(twoCluster.split?.shards as Array<Record<string, number>> | undefined)?.map((x) => `master :${x.port} sent ${x.busPublishShard} sharded publications over the cluster bus (to its replica) and ${x.busPublish} classic ones`).join('; ') ?? 'n/a'}. Each group's channel lives on the master owning its slot, so the publications spread over the masters; with classic PUBLISH every one would cross the bus to all six Redis nodes. Per message sent in the split (${SIZES.split.members - 1} listeners each, which send no receipts; counted from the end of the setup to the end of the traffic, before the sockets close): Redis commands on the masters (\`INFO commandstats\`, which counts the commands a script runs too: ZADD, ZCARD, ZRANGE, ZREMRANGEBYSCORE, PEXPIREAT and TIME are the presence scripts' insides) ${Object.entries((twoCluster.split?.redisCommandsPerMessage ?? {}) as Record<string, number>).map(([k, v]) => `${k.toUpperCase()} ${v}`).join(', ') || 'n/a'}; store operations ${Object.entries((twoCluster.split?.storeOpsPerMessage ?? {}) as Record<string, number>).map(([k, v]) => `${k} ${v}`).join(', ') || 'n/a'}.

### 3. Idle connections
| server | sockets | RSS per socket (after GC) | event-loop delay p99 | time to open all |
|---|---|---|---|---|
${lines(idle('ws limit', ws.idle), idle('Socket.IO peer', sio.idle), idle('ours (memory)', mem.idle), idle('ours (mongo+redis)', mr.idle))}

### 4. Connection churn (connect, authenticate, joined; then close)
| server | connects/s | p50 ms | p99 ms | failed |
|---|---|---|---|---|
${lines(churn('ws limit', ws.churn), churn('Socket.IO peer', sio.churn), churn('ours (memory)', mem.churn), churn('ours (mongo+redis)', mr.churn))}

### 5. History over REST (autocannon, ${smoke ? 4 : 50} connections, a conversation of ${SIZES.history.messages} messages)
| server | page | one request alone | requests/s | p50 ms | p99 ms | non-2xx | timed out (10 s) |
|---|---|---|---|---|---|---|---|
${lines(...[['ours (memory)', mem], ['ours (mongo+redis)', mr]].flatMap(([n, r]) => { const h = (r as Figures[string]).history; return h === undefined ? [] : [`| ${n as string} | newest | ${h.alone?.newestMs ?? 'n/a'} ms | ${h.newestPage.requestsPerSecond} | ${h.newestPage.p50Ms} | ${h.newestPage.p99Ms} | ${h.newestPage.non2xx} | ${h.newestPage.errors} |`, `| ${n as string} | middle | ${h.alone?.middleMs ?? 'n/a'} ms | ${h.middlePage.requestsPerSecond} | ${h.middlePage.p50Ms} | ${h.middlePage.p99Ms} | ${h.middlePage.non2xx} | ${h.middlePage.errors} |`] }))}
<!-- bench:end -->`
  const file = join(outDir, 'RESULTS.md')
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Results\n\nFigures produced by the scripts in bench/. Each section is rewritten by the run that produces it.\n'
  const next = /<!-- bench:start -->[\s\S]*<!-- bench:end -->/.test(current)
    ? current.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, section)
    : current.replace(/(\n<!-- soak:start -->)/, `\n${section}\n$1`).includes(section) ? current.replace(/(\n<!-- soak:start -->)/, `\n${section}\n$1`) : `${current.trimEnd()}\n\n${section}\n`
  writeFileSync(file, next)
  log(`wrote ${join(outDir, 'RESULTS.md')} and results.json; exactly once everywhere: ${allOnce}`)
  if (!allOnce) process.exitCode = 1
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
