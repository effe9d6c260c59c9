/**
 * Real processes for fault tests, the soak and the benchmarks: Redis, the
 * FerretDB harness and server nodes, each on a fixed port so that it can be
 * killed and started again where its clients expect it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clusterHealthy, ferretArgs, freePort, redisAnswers, redisArgs, redisCli, root, startFerretHarness, startRedisCluster, waitFor, type FerretBackend } from '../../scripts/services.mjs'

export interface Restartable {
  readonly name: string
  readonly running: boolean
  start (): Promise<void>
  /** SIGKILL by default: no goodbye to anyone. */
  stop (signal?: NodeJS.Signals): Promise<void>
}

async function exited (child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  await gone
}

/** A redis-server that keeps nothing on disk: a restart starts empty, as a crashed cache node does. */
export class RedisProcess implements Restartable {
  readonly name = 'redis'
  private child: ChildProcess | undefined
  private constructor (readonly port: number) {}

  static async start (): Promise<RedisProcess> {
    const p = new RedisProcess(await freePort())
    await p.start()
    return p
  }

  get url (): string { return `redis://127.0.0.1:${this.port}` }
  get running (): boolean { return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null }

  async start (): Promise<void> {
    if (this.running) return
    this.child = spawn('redis-server', redisArgs(this.port), { stdio: 'ignore' })
    await waitFor(() => redisAnswers(this.port), `redis-server on ${this.port}`, 10_000)
  }

  async stop (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await exited(this.child, signal)
  }
}

/**
 * A Redis Cluster of six redis-server processes (3 masters, each with a
 * replica), a master failed over one second after it stops answering.
 * Stopping it stops them all; kill() stops one node, as a crash would.
 */
export class RedisClusterProcess implements Restartable {
  readonly name = 'redis cluster'
  private constructor (readonly ports: number[], private readonly children: ChildProcess[]) {}

  static async start (): Promise<RedisClusterProcess> {
    const { ports, children } = await startRedisCluster()
    return new RedisClusterProcess(ports, children)
  }

  /** REDIS_CLUSTER_NODES for a server node. */
  get seeds (): string { return this.ports.map((p) => `127.0.0.1:${p}`).join(',') }
  get running (): boolean { return this.children.some((c) => c.exitCode === null && c.signalCode === null) }

  /** The port of the live master owning a slot, by the cluster's own slot map. */
  masterOf (slot: number): number {
    const live = this.ports.filter((_, i) => this.children[i]!.exitCode === null && this.children[i]!.signalCode === null)
    for (const line of redisCli(live[0]!, 'cluster', 'nodes').split('\n')) {
      const [, address, flags, , , , , , ...ranges] = line.split(' ')
      if (address === undefined || !/master/.test(flags ?? '') || /fail/.test(flags ?? '')) continue
      for (const range of ranges) {
        const [from, to] = range.split('-').map(Number)
        if (slot >= from! && slot <= (to ?? from)!) return Number(address.split('@')[0]!.split(':')[1])
      }
    }
    throw new Error(`no live master owns slot ${slot}`)
  }

  /** Kills one node (SIGKILL: no goodbye to its replica or its clients). */
  async kill (port: number): Promise<void> {
    await exited(this.children[this.ports.indexOf(port)], 'SIGKILL')
  }

  /** Resolves when the live nodes agree the cluster is ok again with `masters` masters (a replica took over). */
  async failedOver (port: number, timeoutMs = 15_000): Promise<void> {
    const live = this.ports.filter((p) => p !== port)
    await waitFor(() => {
      try {
        return live.every((p) => /cluster_state:ok/.test(redisCli(p, 'cluster', 'info'))) &&
          !redisCli(live[0]!, 'cluster', 'nodes').split('\n').some((l) => l.includes(`:${port}@`) && /master/.test(l.split(' ')[2] ?? '') && !/fail/.test(l.split(' ')[2] ?? ''))
      } catch {
        return false
      }
    }, `a replica taking over from ${port}`, timeoutMs)
  }

  /** Whether every node, the killed ones aside, says the cluster is whole. */
  healthy (masters = 3): boolean { return clusterHealthy(this.ports, masters) }

  async start (): Promise<void> {
    if (!this.running) throw new Error('a stopped Redis Cluster is not started again: start a new one')
  }

  async stop (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await Promise.all(this.children.map((c) => exited(c, signal)))
  }
}

/**
 * The FerretDB harness on a database of its own: stopping it is a database
 * outage, starting it again brings the same data back.
 */
export class FerretProcess implements Restartable {
  readonly name = 'database'
  private child: ChildProcess | undefined
  private args: string[]
  private constructor (readonly port: number, private readonly bin: string, private readonly backend: FerretBackend, private readonly sqliteBase: string, public database: string) {
    this.args = ferretArgs(backend, database, sqliteBase)
  }

  /** The next start() serves another database (an empty one, for a server that comes back without its data). */
  retarget (database: string): void {
    this.database = database
    this.args = ferretArgs(this.backend, database, this.sqliteBase)
  }

  /** Drops the PostgreSQL databases it served (SQLite ones live in a temporary directory). */
  async dropDatabases (names: string[]): Promise<void> {
    if (this.backend !== 'postgresql') return
    for (const name of names) {
      await new Promise<void>((resolve) => {
        spawn('dropdb', ['--if-exists', '-h', '127.0.0.1', '-U', process.env.PGUSER ?? 'postgres', name], { stdio: 'ignore' }).on('exit', () => resolve()).on('error', () => resolve())
      })
    }
  }

  /** From the harness that `npm test` (TEST_FERRETDB_BIN, TEST_FERRETDB_BACKEND) or the caller provides. */
  static async start (database: string, harness?: { bin: string, backend: FerretBackend }): Promise<FerretProcess> {
    const bin = harness?.bin ?? process.env.TEST_FERRETDB_BIN
    const backend = harness?.backend ?? process.env.TEST_FERRETDB_BACKEND as FerretBackend | undefined
    if (bin === undefined || backend === undefined) throw new Error('no FerretDB harness: run through `npm test`, or pass one')
    const sqliteBase = backend === 'sqlite' ? mkdtempSync(join(tmpdir(), 'ferret-fault-')) : ''
    const p = new FerretProcess(await freePort(), bin, backend, sqliteBase, database)
    await p.start()
    return p
  }

  get url (): string { return `mongodb://127.0.0.1:${this.port}/` }
  get running (): boolean { return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null }

  async start (): Promise<void> {
    if (this.running) return
    this.child = (await startFerretHarness(this.bin, [...this.args, '-port', String(this.port)])).child
  }

  async stop (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await exited(this.child, signal)
  }
}

export const TEST_SECRET = 'fault-test-secret-that-is-long-enough-for-hs256-0123456789'

export interface NodeProcessOptions {
  /** The script to run (default src/server.ts); a baseline server, for the benchmarks. */
  script?: string
  /** Extra node flags, such as --inspect=127.0.0.1:port. */
  nodeArgs?: string[]
  /** Ready when any HTTP answer comes (servers without /health/live). */
  anyAnswer?: boolean
}

/** A server node (src/server.ts under tsx, or another script) on a fixed port. */
export class NodeProcess implements Restartable {
  private child: ChildProcess | undefined
  /** The last lines it wrote, for failure messages. */
  readonly output: string[] = []
  starts = 0

  private constructor (readonly name: string, readonly port: number, private readonly env: Record<string, string>, private readonly opts: NodeProcessOptions) {}

  static async start (name: string, env: Record<string, string>, opts: NodeProcessOptions = {}): Promise<NodeProcess> {
    const p = new NodeProcess(name, await freePort(), env, opts)
    await p.start()
    return p
  }

  get pid (): number | undefined { return this.child?.pid }

  get baseUrl (): string { return `http://127.0.0.1:${this.port}` }
  get running (): boolean { return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null }

  async start (): Promise<void> {
    if (this.running) return
    const child = spawn(process.execPath, [...this.opts.nodeArgs ?? [], '--import', 'tsx', this.opts.script ?? join(root, 'src', 'server.ts')], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(this.port),
        LOG_LEVEL: 'warn',
        JWT_SECRET: TEST_SECRET,
        RATE_LIMITS: 'off',
        // In the test run's audit of shard keys (scripts/test.mjs), when it runs one.
        ...(process.env.TEST_SHARD_KEY_AUDIT !== undefined && { MONGODB_SHARD_KEY_AUDIT: process.env.TEST_SHARD_KEY_AUDIT }),
        ...this.env
      },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.child = child
    this.starts++
    const keep = (d: Buffer) => {
      for (const line of String(d).split('\n')) if (line !== '' && !/"msg":"(incoming request|request completed)"/.test(line)) this.output.push(line)
      if (this.output.length > 200) this.output.splice(0, this.output.length - 200)
    }
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode}:\n${this.output.slice(-20).join('\n')}`)
      try {
        const res = await fetch(`${this.baseUrl}/health/live`, { signal: AbortSignal.timeout(2000) })
        return this.opts.anyAnswer === true || res.ok
      } catch {
        return false
      }
    }, `node ${this.name}`, 30_000)
  }

  async stop (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await exited(this.child, signal)
  }
}

/** Stops everything (for teardown), quietly. */
export async function stopAll (procs: Array<Restartable | undefined>): Promise<void> {
  await Promise.all(procs.map((p) => p?.stop('SIGKILL').catch(() => {})))
}
