/**
 * A CPU profile of one server under one fan-out load: where its time goes.
 *
 *   npm run bench:profile                          ours on memory, 100 members, 1,500 msgs/s for 10 s
 *   npm run bench:profile -- --store mongo         ours on MongoDB (FerretDB) + Redis
 *   npm run bench:profile -- --rate 500 --seconds 5 --members 100
 *
 * The server runs with `--cpu-prof`; the driver is a process of its own. The
 * profile (a .cpuprofile, for Chrome DevTools or speedscope) is written under
 * bench/profiles/, and the summary (self time by area and by function) is
 * printed and written beside it as markdown.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { FerretProcess, NodeProcess, RedisProcess, stopAll, type Restartable } from './lib/cluster.js'
import { runDriver } from './lib/drive.js'
import { ensureRedisServer, ferretHarness, root } from '../scripts/services.mjs'

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'memory' },
    rate: { type: 'string', default: '1500' },
    seconds: { type: 'string', default: '10' },
    members: { type: 'string', default: '100' },
    out: { type: 'string', default: join(root, 'bench', 'profiles') }
  }
})
const rate = Number(values.rate)
const seconds = Number(values.seconds)
const members = Number(values.members)
const mongo = values.store === 'mongo'
const log = (msg: string) => console.log(`[profile] ${msg}`)

interface CpuProfile {
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }>
  samples: number[]
  timeDeltas: number[]
}

/** Where a function lives, in words: our code, a dependency, Node itself, or V8's own buckets. */
function areaOf (url: string, name: string): string {
  if (url === '') return name === '(garbage collector)' ? 'GC' : name === '(idle)' ? 'idle' : name === '(program)' ? 'V8 / native (program)' : `native: ${name}`
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (dep !== null) return `dependency: ${dep[1]}`
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0]}`
  const path = url.replace(/^file:\/\//, '')
  return `ours: ${relative(root, path).split('/').slice(0, 2).join('/')}`
}

/** Self time per area and per function, in ms and as a share of the samples. */
function summarise (profile: CpuProfile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const areas = new Map<string, number>()
  const fns = new Map<string, number>()
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const area = areaOf(url, functionName)
    areas.set(area, (areas.get(area) ?? 0) + us)
    const where = url === '' ? '' : ` ${url.replace(/^.*node_modules\//, '').replace(`file://${root}/`, '')}:${lineNumber + 1}`
    const fn = `${functionName === '' ? '(anonymous)' : functionName}${where}`
    fns.set(fn, (fns.get(fn) ?? 0) + us)
  }
  const rows = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: Math.round((us / total) * 1000) / 10 }))
  return { totalMs: Math.round(total / 1000), areas: rows(areas, 20), functions: rows(fns, top) }
}

async function main () {
  const dir = join(values.out!, `${mongo ? 'mongo' : 'memory'}-${Date.now().toString(36)}`)
  mkdirSync(dir, { recursive: true })
  const started: Restartable[] = []
  let env: Record<string, string> = {}
  let dropDatabase = async () => {}
  if (mongo) {
    ensureRedisServer(log)
    const redis = await RedisProcess.start()
    const database = `chat_profile_${Date.now().toString(36)}`
    const db = await FerretProcess.start(database, await ferretHarness(log))
    started.push(redis, db)
    env = { MONGODB_URL: db.url, REDIS_URL: redis.url }
    dropDatabase = () => db.dropDatabases([database])
  }
  const server = await NodeProcess.start('profiled', {
    RATE_LIMITS: 'off', LOG_LEVEL: 'warn', ACCESS_TOKEN_TTL_SECONDS: '86400', WS_MAX_CONNECTIONS_PER_IP: '1000000', ...env
  }, { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] })
  started.push(server)
  try {
    log(`fan-out to ${members} members at ${rate} msgs/s for ${seconds} s (${mongo ? 'MongoDB + Redis' : 'memory'})`)
    const result = await runDriver({ kind: 'ours', urls: [server.baseUrl], runId: `p${Date.now().toString(36)}`, contentBytes: 100, spec: { scenario: 'fanout', members, rates: [rate], stepSeconds: seconds, p99LimitMs: 1e9 } })
    const step = (result.steps as Array<Record<string, unknown>>)[0]
    log(`driver: ${JSON.stringify(step)}`)
    // SIGTERM: the server closes with grace and exits, and V8 writes the profile.
    await server.stop('SIGTERM')
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
    if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`)
    const summary = summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile)
    const md = [
      `# CPU profile: fan-out to ${members} members at ${rate} msgs/s for ${seconds} s, ours on ${mongo ? 'MongoDB (FerretDB) + Redis' : 'the memory adapters'}`,
      '',
      `Driver: ${JSON.stringify(step)}`,
      '',
      `Server CPU profile, ${summary.totalMs} ms of samples (self time; idle included). Profile: \`${relative(root, join(dir, file))}\`.`,
      '',
      '| area | ms | share |', '|---|---|---|',
      ...summary.areas.map((r) => `| ${r.name} | ${r.ms} | ${r.share}% |`),
      '',
      '| function | ms | share |', '|---|---|---|',
      ...summary.functions.map((r) => `| \`${r.name}\` | ${r.ms} | ${r.share}% |`),
      ''
    ].join('\n')
    writeFileSync(join(dir, 'summary.md'), md)
    console.log(md)
  } finally {
    await stopAll(started)
    await dropDatabase()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
