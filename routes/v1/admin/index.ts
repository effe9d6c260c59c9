import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from 'fastify'
import { AppError, unauthorized } from '../../../src/domain/errors.js'
import { EVENT_TYPES } from '../../../src/domain/outgoing.js'
import { sameSecret } from '../../../src/domain/secrets.js'
import { DateTime, Id, responses } from '../../../src/schemas/common.js'

const EventType = Type.Union(EVENT_TYPES.map((t) => Type.Literal(t)), { title: 'EventType' })
const Endpoint = Type.Object({
  id: Id,
  url: Type.String({ format: 'uri' }),
  events: Type.Array(EventType, { description: 'the types it gets; empty: every type' }),
  description: Type.Optional(Type.String()),
  createdAt: DateTime
}, { title: 'EventEndpoint' })
const CreateEndpointBody = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'http(s); loopback and private addresses are refused unless EVENT_ENDPOINTS_ALLOW_PRIVATE=true', examples: ['https://hooks.example.com/chat'] }),
  events: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: EVENT_TYPES.length, description: `any of ${EVENT_TYPES.join(', ')}; absent or empty: every type` })),
  description: Type.Optional(Type.String({ maxLength: 500 }))
}, { additionalProperties: false })
const CreatedEndpoint = Type.Intersect([Endpoint, Type.Object({
  secret: Type.String({ description: 'shown this once: the Standard Webhooks signing secret (`whsec_` and base64); verify each POST with it', examples: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] })
})], { title: 'CreatedEventEndpoint' })
const Delivery = Type.Object({
  id: Id,
  eventId: Id,
  type: EventType,
  attempts: Type.Integer({ minimum: 0 }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  lastStatusCode: Type.Optional(Type.Integer()),
  lastError: Type.Optional(Type.String({ description: 'why the last attempt failed (empty once delivered)' })),
  lastAttemptAt: Type.Optional(DateTime),
  nextAttemptAt: Type.Optional(DateTime),
  deliveredAt: Type.Optional(DateTime),
  createdAt: DateTime
}, { title: 'Delivery' })
const EndpointParams = Type.Object({ id: Id }, { additionalProperties: false })
const DeliveryParams = Type.Object({ id: Id, deliveryId: Id }, { additionalProperties: false })
const DeliveriesQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  cursor: Type.Optional(Id)
}, { additionalProperties: false })

/**
 * /v1/admin: outgoing events' endpoints and their delivery log, behind
 * ADMIN_API_TOKEN (a Bearer token; compared in constant time). Unset: every
 * route here answers 404, as if there were none.
 */
const admin: FastifyPluginAsyncTypebox = async (app) => {
  const token = app.config.ADMIN_API_TOKEN
  const service = app.services.events
  const tags = ['admin']
  app.addHook('onRequest', async (request) => {
    if (token === undefined) throw new AppError('NOT_FOUND', 'not found')
    if (!sameSecret(request.headers.authorization ?? '', `Bearer ${token}`)) throw unauthorized('the admin token is required')
  })
  app.addHook('onRoute', (route: RouteOptions) => {
    route.schema = { ...route.schema, security: [{ adminAuth: [] }] }
  })

  app.post('/event-endpoints', {
    schema: {
      tags,
      operationId: 'createEventEndpoint',
      summary: 'Add an event endpoint',
      description: 'Events of the given types (all when none) are POSTed to it as JSON `{id, type, createdAt, data}`, signed per the Standard Webhooks spec (headers webhook-id, webhook-timestamp, webhook-signature), at least once each, retried with growing delays until it answers 2xx (for EVENT_RETRY_FOR_MS, 48 hours by default), then failed. Events from the next second on (each node reads the endpoint list once a second).',
      body: CreateEndpointBody,
      response: responses({ 201: CreatedEndpoint }, 401, 404)
    }
  }, async (request, reply) => reply.code(201).send(await service.createEndpoint(request.body)))

  app.get('/event-endpoints', {
    schema: { tags, operationId: 'listEventEndpoints', summary: 'Event endpoints', description: 'Oldest first, without their secrets.', response: responses({ 200: Type.Object({ items: Type.Array(Endpoint) }, { title: 'EventEndpointList' }) }, 401, 404) }
  }, async () => ({ items: await service.listEndpoints() }))

  app.delete('/event-endpoints/:id', {
    schema: { tags, operationId: 'deleteEventEndpoint', summary: 'Remove an event endpoint', description: 'Nothing more is sent to it; its pending deliveries fail.', params: EndpointParams, response: responses({ 204: Type.Null({ description: 'removed' }) }, 401, 404) }
  }, async (request, reply) => {
    await service.removeEndpoint(request.params.id)
    return reply.code(204).send(null)
  })

  app.get('/event-endpoints/:id/deliveries', {
    schema: {
      tags,
      operationId: 'listDeliveries',
      summary: 'An endpoint\'s delivery log',
      description: 'Newest first: each event sent (or to be sent) to it, with its attempts, status, last status code or error and next attempt.',
      params: EndpointParams,
      querystring: DeliveriesQuery,
      response: responses({ 200: Type.Object({ items: Type.Array(Delivery), nextCursor: Type.Union([Id, Type.Null()]) }, { title: 'DeliveryPage' }) }, 401, 404)
    }
  }, async (request) => await service.deliveries(request.params.id, request.query.limit, request.query.cursor))

  app.post('/event-endpoints/:id/deliveries/:deliveryId/retry', {
    schema: {
      tags,
      operationId: 'retryDelivery',
      summary: 'Send a delivery again',
      description: 'Pending again and attempted at once (a failed one is retried for another EVENT_RETRY_FOR_MS; a delivered one is sent again).',
      params: DeliveryParams,
      response: responses({ 202: Delivery }, 401, 404)
    }
  }, async (request, reply) => reply.code(202).send(await service.retry(request.params.id, request.params.deliveryId)))
}

export default admin
