import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { withTimeout } from '../../src/timeout.js'

const Check = Type.Object({
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  kind: Type.String({ description: 'the adapter in use', examples: ['mongo'] }),
  latencyMs: Type.Number(),
  error: Type.Optional(Type.String())
})

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('unavailable')], {
    description: 'ready: both answer. degraded: the broker does not; this node serves its own sockets and REST, and live events reach other nodes again when it is back. unavailable: the store does not.'
  }),
  checks: Type.Object({ store: Check, broker: Check })
}, { title: 'Readiness' })

/**
 * Pings one dependency. The answer says only that it did not answer, and how
 * long it took: the driver's error (hosts, ports, versions) goes to the log.
 */
async function check (kind: string, ping: Promise<void>, timeoutMs: number, log: (err: unknown) => void) {
  const started = performance.now()
  try {
    await withTimeout(ping, timeoutMs)
    return { status: 'up' as const, kind, latencyMs: Math.round(performance.now() - started) }
  } catch (err) {
    log(err)
    const latencyMs = Math.round(performance.now() - started)
    return { status: 'down' as const, kind, latencyMs, error: latencyMs >= timeoutMs ? `no answer within ${timeoutMs} ms` : 'unreachable' }
  }
}

/** How often a node checks its store and broker for the dependency_up gauge (what the alerts read). */
const DEPENDENCY_CHECK_MS = 5000

/** Liveness (the process answers) and readiness (its store and broker answer). Public, unauthenticated. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  const warn = (what: string) => (err: unknown) => app.log.warn({ err: (err as Error).message }, `readiness: the ${what} did not answer`)
  const quiet = () => {}
  /** Pings both and sets dependency_up; `logged`: say in the log what did not answer (the periodic check says only changes). */
  const checkBoth = async (logged: boolean) => {
    const [store, broker] = await Promise.all([
      check(app.store.kind, app.store.ping(), app.config.DEPENDENCY_TIMEOUT_MS, logged ? warn('store') : quiet),
      check(app.broker.kind, app.broker.ping(), app.config.DEPENDENCY_TIMEOUT_MS, logged ? warn('broker') : quiet)
    ])
    for (const [dependency, c] of [['store', store], ['broker', broker]] as const) {
      const up = c.status === 'up' ? 1 : 0
      if (!logged && up !== was.get(dependency)) app.log[up === 1 ? 'info' : 'warn']({ dependency }, `the ${dependency} is ${up === 1 ? 'up' : 'down'}`)
      was.set(dependency, up)
      app.metrics.dependencyUp.set({ dependency }, up)
    }
    return { store, broker }
  }
  const was = new Map<string, number>([['store', 1], ['broker', 1]])
  // Between scrapes too: an alert on a dependency needs no request to /health/ready to see it go.
  let checking = false
  const periodic = () => {
    if (checking) return
    checking = true
    checkBoth(false).catch(() => {}).finally(() => { checking = false })
  }
  const timer = setInterval(periodic, DEPENDENCY_CHECK_MS)
  timer.unref()
  app.addHook('onReady', async () => { periodic() })
  app.addHook('onClose', async () => { clearInterval(timer) })

  app.get('/live', {
    schema: {
      tags: ['health'],
      operationId: 'getLiveness',
      summary: 'Liveness',
      description: 'Answers 200 while the process serves requests; it checks no dependency.',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    schema: {
      tags: ['health'],
      operationId: 'getReadiness',
      summary: 'Readiness',
      description: 'Pings the store and the broker. 200 `ready` when both answer; 200 `degraded` when only the broker does not (the node still serves: taking every node out of a load balancer for a Redis outage would turn it into a full one); 503 `unavailable` when the store does not.',
      response: { 200: Readiness, 503: Readiness }
    }
  }, async (_request, reply) => {
    const { store, broker } = await checkBoth(true)
    const status = store.status === 'down' ? 'unavailable' : broker.status === 'down' ? 'degraded' : 'ready'
    return reply.code(status === 'unavailable' ? 503 : 200).send({ status, checks: { store, broker } })
  })
}

export default health
