import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Id, responses } from '../../../src/schemas/common.js'
import { MessageRef, sendMessageBody } from '../../../src/schemas/conversations.js'

const Params = Type.Object({
  webhookId: Id,
  token: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' })
})

/** Public: integrators post with the secret URL alone, no JWT. */
const webhookSend: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/:webhookId/:token', {
    schema: {
      tags: ['webhooks'],
      operationId: 'postWebhookMessage',
      summary: 'Post a message through a webhook',
      description: 'Sent by the webhook\'s own bot identity and delivered live like any other message. `clientMessageId` makes a retry answer the first message (200). 401 for a wrong token, 403 while the webhook\'s creator is not a participant (it is inactive), 404 for an unknown or deleted webhook.',
      params: Params,
      body: sendMessageBody(app.config.messageLimits),
      response: responses({ 200: MessageRef, 201: MessageRef }, 401, 403, 404, 429)
    }
  }, async (request, reply) => {
    const { message, created } = await app.services.webhooks.post(request.params.webhookId, request.params.token, request.body, { requestId: request.id })
    return reply.code(created ? 201 : 200).send(message)
  })
}

export default webhookSend
