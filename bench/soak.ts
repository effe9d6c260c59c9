/**
 * The soak: reliable clients over two nodes while a node, Redis and the
 * database are killed and started again at random. Prints the verdict
 * (attempted, acked, lost, duplicated, reconnects, p99) and records it in
 * bench/RESULTS.md and bench/soak-result.json.
 *
 *   npm run soak -- --minutes 3 [--rate 20] [--users 10] [--seed 42]
 *
 * Needs what `npm test` needs: redis-server, and Go (or a built harness) with
 * PostgreSQL or SQLite for the FerretDB harness. Exits 1 unless nothing was
 * lost, duplicated or left unacknowledged.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { FerretProcess, NodeProcess, RedisProcess, stopAll, type Restartable } from './lib/cluster.js'
import { Workload, type Verdict } from './lib/workload.js'
import { ensureRedisServer, ferretHarness, root } from '../scripts/services.mjs'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    rate: { type: 'string', default: '20' },
    users: { type: 'string', default: '10' },
    seed: { type: 'string' }
  }
})
const minutes = Number(values.minutes)
const rate = Number(values.rate)
const users = Number(values.users)
if (!(minutes > 0) || !(rate > 0) || !(users >= 2)) throw new Error('usage: npm run soak -- --minutes N [--rate msgs/s] [--users N]')

/** A small seeded generator, so a run's fault schedule can be replayed with --seed. */
let state = Number(values.seed ?? Date.now() % 1_000_000)
const seed = state
const random = () => {
  state = (state * 1103515245 + 12345) % 2147483648
  return state / 2147483648
}
const between = (lo: number, hi: number) => lo + random() * (hi - lo)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const log = (msg: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}`)

async function main () {
  ensureRedisServer(log)
  const harness = await ferretHarness(log)
  const database = `chat_soak_${Date.now()}`
  const redis = await RedisProcess.start()
  const db = await FerretProcess.start(database, harness)
  const env = {
    MONGODB_URL: db.url,
    REDIS_URL: redis.url,
    WS_HEARTBEAT_MS: '1000',
    PRESENCE_TTL_MS: '3000',
    MONGODB_TIMEOUT_MS: '2000',
    ACCESS_TOKEN_TTL_SECONDS: '86400'
  }
  const nodes = [await NodeProcess.start('node-a', env), await NodeProcess.start('node-b', env)]
  const all: Restartable[] = [...nodes, redis, db]
  const cleanup = async () => {
    await stopAll(all)
    await db.dropDatabases([database])
  }
  process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)) })

  log(`seed ${seed}; ${users} users with 2 devices each over 2 nodes, ${rate} msgs/s, ${minutes} min of faults (${harness.backend} behind FerretDB)`)
  const w = await Workload.create({ urls: nodes.map((n) => n.baseUrl), users, devicesPerUser: 2, prefix: `soak${seed}u`, changes: 0.2 })
  const faults: Array<{ target: string, downMs: number }> = []
  const bag: Restartable[] = []
  const running = w.run(rate)
  const end = Date.now() + minutes * 60_000
  while (Date.now() < end) {
    await sleep(Math.min(between(8_000, 20_000), Math.max(0, end - Date.now())))
    if (Date.now() >= end) break
    // Targets come from a shuffled bag, refilled when empty: every one of them is hit, in random order.
    if (bag.length === 0) {
      bag.push(...all)
      for (let i = bag.length - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [bag[i], bag[j]] = [bag[j]!, bag[i]!] }
    }
    const target = bag.pop()!
    const downMs = Math.round(between(1_000, 6_000))
    log(`kill ${target.name} (SIGKILL) for ${downMs} ms; ${w.attempts.length} sends so far`)
    await target.stop('SIGKILL')
    await sleep(downMs)
    await target.start()
    faults.push({ target: target.name, downMs })
  }
  log('faults over; traffic stops, every device syncs')
  w.stop()
  await running
  await w.drain(120_000)
  const verdict = await w.verdict()
  w.close()
  await cleanup()

  const ok = verdict.lost === 0 && verdict.duplicated === 0 && verdict.stale === 0 && verdict.unacked === 0 && verdict.refused === 0
  const line = `attempted ${verdict.attempted}, acked ${verdict.acked}, edits and deletes ${verdict.changes}, lost ${verdict.lost}, duplicated ${verdict.duplicated}, stale ${verdict.stale}, unacked ${verdict.unacked}, reconnects ${verdict.reconnects}, resent ${verdict.resent}, ack p50 ${verdict.ackP50Ms} ms, ack p99 ${verdict.ackP99Ms} ms, deliver p99 ${verdict.deliverP99Ms} ms`
  for (const p of verdict.problems.slice(0, 20)) log(`problem: ${p}`)
  log(`verdict: ${ok ? 'PASS' : 'FAIL'}: ${line}`)
  record({ ok, seed, minutes, rate, users, faults, verdict, backend: harness.backend })
  process.exit(ok ? 0 : 1)
}

function record (run: { ok: boolean, seed: number, minutes: number, rate: number, users: number, faults: Array<{ target: string, downMs: number }>, verdict: Verdict, backend: string }) {
  const machine = { cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version }
  const date = new Date().toISOString()
  writeFileSync(join(root, 'bench', 'soak-result.json'), JSON.stringify({ date, machine, ...run }, null, 2) + '\n')
  const counts = run.faults.reduce<Record<string, number>>((acc, f) => { acc[f.target] = (acc[f.target] ?? 0) + 1; return acc }, {})
  const v = run.verdict
  const section = `<!-- soak:start -->
## Soak: faults at random, reliable clients

\`npm run soak -- --minutes ${run.minutes}\` on ${date.slice(0, 10)} (${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}; MongoDB = FerretDB 1.24 on ${run.backend}; seed ${run.seed}).
${run.users} users with 2 devices each (live clients from \`client/\`: resend unacknowledged sends with the same clientMessageId after a reconnect, sync from the server's per-conversation version cursors, drop repeats by version) on two nodes over Redis, ${run.rate} operations/s offered (a fifth of them edits or deletions, over REST, of messages sent before), while one of node-a, node-b, Redis and the database (in a random order that hits each before any twice) was killed with SIGKILL and started again every 8 to 20 s: ${run.faults.length} faults (${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')}).

| verdict | sends | acked | edits and deletes | lost | duplicated | stale | unacked | reconnects | resent | ack p50 | ack p99 | deliver p99 |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
| ${run.ok ? 'PASS' : 'FAIL'} | ${v.attempted} | ${v.acked} | ${v.changes} | ${v.lost} | ${v.duplicated} | ${v.stale} | ${v.unacked} | ${v.reconnects} | ${v.resent} | ${v.ackP50Ms} ms | ${v.ackP99Ms} ms | ${v.deliverP99Ms} ms |

Lost counts acknowledged messages missing from history or from any participant device after its final sync; duplicated counts a message id or clientMessageId stored twice, or a device handed one seq twice; stale counts a device showing a message otherwise than history does after its final sync (an edit or a deletion it never got). Latencies include the outages (a send waits for the database or a node to return), so the p99 measures recovery, not speed. The full record is in \`bench/soak-result.json\`.
<!-- soak:end -->`
  const file = join(root, 'bench', 'RESULTS.md')
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Results\n\nFigures produced by the scripts in bench/. Each section is rewritten by the run that produces it.\n'
  const next = /<!-- soak:start -->[\s\S]*<!-- soak:end -->/.test(current)
    ? current.replace(/<!-- soak:start -->[\s\S]*<!-- soak:end -->/, section)
    : `${current.trimEnd()}\n\n${section}\n`
  writeFileSync(file, next)
  log('recorded in bench/RESULTS.md and bench/soak-result.json')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
