import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { responses } from '../../../src/schemas/common.js'
import { ConversationParams, CreateWebhookBody, CreatedWebhook, WebhookList, WebhookParams } from './schemas.js'

/** Protected: a conversation's incoming webhooks. */
const webhooks: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.services.webhooks
  const tags = ['webhooks']

  app.post('/:id/webhooks', {
    schema: {
      tags,
      operationId: 'createWebhook',
      summary: 'Create an incoming webhook',
      description: 'Any participant may create one. The answer holds the token and the URL to post to; they are shown this once. 409 when the user has created MAX_WEBHOOKS_PER_USER webhooks, or the conversation has MAX_WEBHOOKS_PER_CONVERSATION.',
      params: ConversationParams,
      body: CreateWebhookBody,
      response: responses({ 201: CreatedWebhook }, 403, 404, 409, 429)
    }
  }, async (request, reply) => {
    const created = await service.create(request.userId, request.params.id, request.body.name)
    // On the configured public URL: the request's Host and X-Forwarded-Proto are the client's to choose.
    const base = app.config.PUBLIC_URL ?? `${request.protocol}://${request.host}`
    const url = `${base}/v1/webhooks/${created.id}/${created.token}`
    return reply.code(201).send({ ...created, url })
  })

  app.get('/:id/webhooks', {
    schema: { tags, operationId: 'listWebhooks', summary: 'List webhooks (without tokens)', description: 'Any participant may list them; tokens are never shown again.', params: ConversationParams, response: responses({ 200: WebhookList }, 403, 404) }
  }, async (request) => ({ items: await service.list(request.userId, request.params.id) }))

  app.delete('/:id/webhooks/:webhookId', {
    schema: {
      tags,
      operationId: 'deleteWebhook',
      summary: 'Delete a webhook',
      description: 'Its creator, or a group\'s owner and admins. Its URL stops working at once.',
      params: WebhookParams,
      response: responses({ 204: Type.Null({ description: 'deleted' }) }, 403, 404)
    }
  }, async (request, reply) => {
    await service.remove(request.userId, request.params.id, request.params.webhookId)
    return reply.code(204).send(null)
  })
}

export default webhooks
