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

/** Liveness (the process answers) and readiness (its store and broker answer). Public, unauthenticated. */
const health: FastifyPluginAsyncTypebox = async (app) => {
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
    const [store, broker] = await Promise.all([
      check(app.store.kind, app.store.ping(), app.config.DEPENDENCY_TIMEOUT_MS, (err) => app.log.warn({ err: (err as Error).message }, 'readiness: the store did not answer')),
      check(app.broker.kind, app.broker.ping(), app.config.DEPENDENCY_TIMEOUT_MS, (err) => app.log.warn({ err: (err as Error).message }, 'readiness: the broker did not answer'))
    ])
    const status = store.status === 'down' ? 'unavailable' : broker.status === 'down' ? 'degraded' : 'ready'
    return reply.code(status === 'unavailable' ? 503 : 200).send({ status, checks: { store, broker } })
  })
}

export default health
