import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import cors from '@fastify/cors'
import type { Config } from './config.js'
import { createValidatorCompiler } from './validation.js'
import { loggerOptions, readableLogs } from './logging.js'
import configPlugin from '../plugins/config.js'
import errorsPlugin from '../plugins/errors.js'
import metricsPlugin from '../plugins/metrics.js'
import storePlugin, { type StorePluginOptions } from '../plugins/store.js'
import brokerPlugin, { type BrokerPluginOptions } from '../plugins/broker.js'
import presencePlugin, { type PresencePluginOptions } from '../plugins/presence.js'
import limitsPlugin, { type LimitsPluginOptions } from '../plugins/limits.js'
import authPlugin from '../plugins/auth.js'
import rateLimitPlugin from '../plugins/rate-limit.js'
import securityHeadersPlugin from '../plugins/security-headers.js'
import revocationsPlugin, { type RevocationsPluginOptions } from '../plugins/revocations.js'
import swaggerPlugin from '../plugins/swagger.js'
import webPlugin from '../plugins/web.js'
import websocketPlugin from '../plugins/websocket.js'
import servicesPlugin from '../plugins/services.js'
import realtimePlugin from '../plugins/realtime.js'
import outboxPlugin from '../plugins/outbox.js'
import healthRoutes from '../routes/health/index.js'
import v1Routes from '../routes/v1/index.js'

/** What a client-chosen request id may be. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

export interface BuildOptions {
  /** Overrides of Fastify's logger option (tests pass a stream to read log lines). */
  logger?: FastifyServerOptions['logger']
  store?: StorePluginOptions
  broker?: BrokerPluginOptions
  presence?: PresencePluginOptions
  limits?: LimitsPluginOptions
  revocations?: RevocationsPluginOptions
}

/**
 * Builds the whole application, ready but not listening. The server and the
 * tests both call this, so both validate and serialise exactly alike.
 */
export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  // TLS_CERT_FILE and TLS_KEY_FILE: the node serves HTTPS, and the websocket (on the same server) WSS. The
  // instance's type stays the HTTP one: routes and plugins see the same request and reply either way.
  const tls: object = config.tls === null ? {} : { https: { cert: config.tls.cert, key: config.tls.key, minVersion: 'TLSv1.2' } }
  const app = Fastify({
    ...tls,
    logger: options.logger ?? loggerOptions(config.LOG_LEVEL, readableLogs(config.NODE_ENV)),
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.trustProxy,
    // A client's X-Request-Id is kept only when it is a short, plain token (it is logged and echoed back).
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    connectionTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 }
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(createValidatorCompiler())
  // While shutting down, answers close their connection: a keep-alive socket
  // that finishes an in-flight request would otherwise hold the close open.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
    if (closing) reply.header('connection', 'close')
  })

  // Infrastructure, then application plugins, then routes (STYLE.md rule 2).
  await app.register(configPlugin, { config })
  await app.register(errorsPlugin)
  await app.register(metricsPlugin)
  await app.register(storePlugin, options.store ?? {})
  await app.register(brokerPlugin, options.broker ?? {})
  await app.register(presencePlugin, options.presence ?? {})
  await app.register(limitsPlugin, options.limits ?? {})
  await app.register(revocationsPlugin, options.revocations ?? {})
  await app.register(authPlugin)
  await app.register(rateLimitPlugin)
  await app.register(securityHeadersPlugin)
  await app.register(cors, {
    origin: config.corsOrigins.includes('*') ? true : config.corsOrigins,
    exposedHeaders: ['x-request-id', 'retry-after']
  })
  await app.register(swaggerPlugin)
  await app.register(webPlugin)
  await app.register(websocketPlugin)
  await app.register(servicesPlugin)
  await app.register(realtimePlugin)
  await app.register(outboxPlugin)

  await app.register(healthRoutes, { prefix: '/health' })
  await app.register(v1Routes, { prefix: '/v1' })

  await app.ready()
  return app
}
