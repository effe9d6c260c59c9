import fp from 'fastify-plugin'
import { createMetrics, type Metrics } from '../src/metrics.js'
import { Type } from '@sinclair/typebox'
import { unauthorized } from '../src/domain/errors.js'
import { sameSecret } from '../src/domain/secrets.js'
import { responses } from '../src/schemas/common.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

/** Prometheus metrics: HTTP durations here, the rest where they happen; GET /metrics (behind METRICS_TOKEN when set). */
export default fp(async (app) => {
  const metrics = createMetrics()
  app.decorate('metrics', metrics)

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.httpDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
    if (reply.statusCode === 429) metrics.rateLimited.inc({ where: 'http' })
  })

  app.get('/metrics', {
    schema: {
      tags: ['health'],
      summary: 'Prometheus metrics',
      description: 'Text exposition format. When METRICS_TOKEN is set, send it as `Authorization: Bearer <METRICS_TOKEN>`.',
      response: responses({ 200: Type.String({ description: 'Prometheus text format' }) }, 401)
    }
  }, async (request, reply) => {
    const token = app.config.METRICS_TOKEN
    if (token !== undefined && !sameSecret(request.headers.authorization ?? '', `Bearer ${token}`)) throw unauthorized('the metrics token is required')
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}, { name: 'metrics', dependencies: ['config', 'errors'] })
