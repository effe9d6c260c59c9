/** Several server nodes of one deployment in one test, each listening on a real port. */
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import type { BuildOptions } from '../../src/app.js'
import { createMemoryBroker, MemoryBus } from '../../src/broker/memory/index.js'
import { createMemoryLimits } from '../../src/limits/memory.js'
import { createMemoryRevocations, type RevocationTable } from '../../src/revocations/memory.js'
import { createMemoryPresence, type PresenceTable } from '../../src/presence/memory.js'
import { createMemoryStore } from '../../src/store/memory/index.js'
import { buildTestApp } from '../helper.js'

export type Deployment = 'memory' | 'mongo+redis'

export interface Node {
  app: FastifyInstance
  base: string
}

/** Fast timers, so expiry tests take a second, not a minute. */
export const FAST_ENV = { WS_HEARTBEAT_MS: '500', PRESENCE_TTL_MS: '1500', TYPING_TTL_MS: '400', RECEIPT_FLUSH_MS: '30' }

/**
 * The build options of `count` memory nodes of one deployment: one store, one
 * bus, one presence table, one set of limits and one of revocations, as a MongoDB and a Redis
 * would be shared. Closed when the test ends.
 */
export function memoryDeployment (t: Test, count: number): BuildOptions[] {
  const store = createMemoryStore()
  const bus = new MemoryBus()
  const table: PresenceTable = new Map()
  const limits = createMemoryLimits()
  const revoked: RevocationTable = new Map()
  const brokers = Array.from({ length: count }, () => createMemoryBroker({ bus }))
  t.teardown(async () => { for (const b of brokers) await b.close(); await store.close() })
  return brokers.map((broker) => ({ store: { store }, broker: { broker }, presence: { presence: createMemoryPresence({ table }) }, limits: { limits }, revocations: { revocations: createMemoryRevocations({ table: revoked }) } }))
}

/**
 * `count` nodes sharing their data and events: one memory store and one
 * memory bus, or one MongoDB database and one Redis key prefix. Undefined when
 * the servers are not provisioned (the test is then skipped, or failed in CI).
 */
export async function startNodes (t: Test, deployment: Deployment, count = 2, env: Record<string, string> = {}): Promise<Node[] | undefined> {
  const nodes: Node[] = []
  const fullEnv = { ...FAST_ENV, ...env }
  if (deployment === 'memory') {
    for (const build of memoryDeployment(t, count)) {
      const built = await buildTestApp(t, { env: fullEnv, build })
      if (built === undefined) return undefined
      nodes.push({ app: built.app, base: await built.app.listen({ port: 0, host: '127.0.0.1' }) })
    }
    return nodes
  }
  let shared: { mongoUrl?: string, redisPrefix?: string } = {}
  for (let i = 0; i < count; i++) {
    const built = await buildTestApp(t, { store: 'mongo', broker: 'redis', env: fullEnv, ...shared })
    if (built === undefined) return undefined
    shared = { ...(built.mongoUrl !== undefined && { mongoUrl: built.mongoUrl }), ...(built.redisPrefix !== undefined && { redisPrefix: built.redisPrefix }) }
    nodes.push({ app: built.app, base: await built.app.listen({ port: 0, host: '127.0.0.1' }) })
  }
  return nodes
}

/** Runs `fn` once per deployment, each as its own subtest. */
export function forEachDeployment (t: Test, name: string, fn: (t: Test, nodes: Node[], deployment: Deployment) => Promise<void>, opts: { count?: number, env?: Record<string, string> } = {}): void {
  for (const deployment of ['memory', 'mongo+redis'] as const) {
    t.test(`${name} [${deployment}]`, async (t) => {
      const nodes = await startNodes(t, deployment, opts.count ?? 2, opts.env)
      if (nodes !== undefined) await fn(t, nodes, deployment)
    })
  }
}
