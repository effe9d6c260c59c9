import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { stringify } from 'yaml'
import { buildAsyncApi } from '../src/realtime/asyncapi.js'
import { API_VERSION } from '../src/version.js'

/** The OpenAPI 3 document, generated from the route schemas, at /docs/json; Swagger UI at /docs. */
export default fp(async (app) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Chat backend API',
        version: API_VERSION,
        contact: { name: 'The chat backend\'s maintainers (see the README)' },
        license: { name: 'MIT', identifier: 'MIT' },
        description: 'REST for accounts, conversations and history. Live events travel over the websocket at /v1/ws (see /docs/asyncapi.yaml).'
      },
      servers: [{ url: 'http://localhost:3000', description: 'the quick start (npm start); use your deployment\'s base URL' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'an access token, or a bot\'s API key (cbk_…)' },
          adminAuth: { type: 'http', scheme: 'bearer', description: 'ADMIN_API_TOKEN' }
        }
      },
      tags: [
        { name: 'auth', description: 'Registration, login and tokens' },
        { name: 'users', description: 'Profiles and search' },
        { name: 'conversations', description: 'Direct conversations and groups, participants and roles' },
        { name: 'messages', description: 'History, sending, editing, deleting, read watermarks' },
        { name: 'search', description: 'Message search across my conversations' },
        { name: 'webhooks', description: 'Incoming webhooks for integrators' },
        { name: 'bots', description: 'Bot accounts and their API keys' },
        { name: 'admin', description: 'Outgoing events: endpoints and their delivery log (ADMIN_API_TOKEN)' },
        { name: 'health', description: 'Liveness and readiness' }
      ]
    },
    // A parameter with a default may be left out: not `required`, whatever the route's schema says
    // (clients generated from the document would otherwise have to pass it).
    transformObject: (documents) => {
      const doc = 'openapiObject' in documents ? documents.openapiObject : documents.swaggerObject
      for (const item of Object.values(doc.paths ?? {})) {
        for (const op of Object.values(item ?? {}) as Array<{ operationId?: string, parameters?: Array<{ required?: boolean, schema?: { default?: unknown } }>, requestBody?: unknown }>) {
          for (const p of op.parameters ?? []) if (p.schema?.default !== undefined) p.required = false
          // The upload's body is read by @fastify/multipart as a stream, not validated as a schema: described here.
          if (op.operationId === 'uploadAttachment') {
            op.requestBody = {
              required: true,
              content: { 'multipart/form-data': { schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary', description: 'the file; its name and type as the client gives them (the type is checked against the bytes)' } } } } }
            }
          }
        }
      }
      return doc
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`)
    }
  })
  // staticCSP: the UI's own policy (its scripts and styles from this origin) instead of the API answers' 'none';
  // without upgrade-insecure-requests, which would break the UI served over plain HTTP on a LAN address.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true },
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;/, '')
  })

  const asyncApi = stringify(buildAsyncApi(API_VERSION, app.config.messageLimits))
  app.get('/docs/asyncapi.yaml', { schema: { hide: true } }, async (_request, reply) => reply.type('application/yaml').send(asyncApi))
}, { name: 'swagger', dependencies: ['errors'] })
