import { Type, type TSchema } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { validationError } from '../../../src/domain/errors.js'
import { responses } from '../../../src/schemas/common.js'
import { editMessageBody, MessageRef, sendMessageBody } from '../../../src/schemas/conversations.js'
import { ConversationParams, HistoryQuery, IdempotencyHeaders, MessagePage, MessageParams, PinList, ReactionParams, ReadBody } from './schemas.js'


/** Protected: history, sending, editing, deleting, and the read watermark. */
const messages: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.services.messages
  const tags = ['messages']
  const SendMessageBody = sendMessageBody(app.config.messageLimits)
  const EditMessageBody = editMessageBody(app.config.messageLimits)

  app.get('/:id/messages', {
    schema: {
      tags,
      operationId: 'listMessages',
      summary: 'History',
      description: 'Sorted by seq ascending. With no bound: the newest page. `beforeSeq` pages back, `afterSeq` pages forward; `hasMore` says whether more exist in that direction. With `threadId`: one thread, its root and its replies, paged the same way.',
      params: ConversationParams,
      querystring: HistoryQuery,
      response: responses({ 200: MessagePage }, 403, 404)
    }
  }, async (request) => service.history(request.userId, request.params.id, request.query))

  app.post('/:id/messages', {
    schema: {
      tags,
      operationId: 'sendMessage',
      summary: 'Send a message',
      description: 'Stored with the next seq and delivered live to every participant. The same `clientMessageId` (or `Idempotency-Key` header) from the same sender answers the first message with 200 instead of creating another.',
      params: ConversationParams,
      headers: IdempotencyHeaders,
      body: SendMessageBody,
      response: responses({ 200: MessageRef, 201: MessageRef }, 403, 404, 429)
    }
  }, async (request, reply) => {
    const key = request.headers['idempotency-key']
    const { clientMessageId } = request.body
    if (key !== undefined && clientMessageId !== undefined && key !== clientMessageId) {
      throw validationError('Idempotency-Key and clientMessageId differ', { field: 'clientMessageId' })
    }
    const { message, created } = await service.send(app.services.senders.user(request.userId), {
      ...request.body,
      conversationId: request.params.id,
      clientMessageId: clientMessageId ?? key,
      source: 'rest',
      trace: { requestId: request.id }
    })
    return reply.code(created ? 201 : 200).send(message)
  })

  app.patch('/:id/messages/:messageId', {
    schema: {
      tags,
      operationId: 'editMessage',
      summary: 'Edit my message',
      description: 'Sets content and editedAt. Only the sender may edit; a deleted message cannot be edited (409).',
      params: MessageParams,
      body: EditMessageBody,
      response: responses({ 200: MessageRef }, 403, 404, 409)
    }
  }, async (request) => service.edit(request.userId, request.params.id, request.params.messageId, request.body.content))

  app.delete('/:id/messages/:messageId', {
    schema: {
      tags,
      operationId: 'deleteMessage',
      summary: 'Delete a message',
      description: 'Own messages; group owners and admins may delete any. The message stays in history as a tombstone: seq kept, content and attachments emptied, deletedAt set.',
      params: MessageParams,
      response: responses({ 204: Type.Null({ description: 'deleted' }) }, 403, 404)
    }
  }, async (request, reply) => {
    await service.remove(request.userId, request.params.id, request.params.messageId)
    return reply.code(204).send(null)
  })

  /** The schema of an idempotent PUT or DELETE that answers 204, done or already so. */
  const idempotentSchema = <P extends TSchema>(params: P, errors: Parameters<typeof responses>[1][], operationId: string, summary: string, description: string) => ({
    tags,
    operationId,
    summary,
    description,
    params,
    response: responses({ 204: Type.Null({ description: 'done (also when there was nothing to do)' }) }, ...errors)
  })
  const reactionSchema = (operationId: string, summary: string, description: string) => idempotentSchema(ReactionParams, [400, 403, 404, 409, 429], operationId, summary, description)

  app.put('/:id/messages/:messageId/reactions/:emoji', {
    schema: reactionSchema('addReaction', 'React to a message', 'Idempotent: reacting again with the same emoji changes nothing. Participants only; 409 on a deleted message, or past 20 distinct emoji on the message or 10 reactions of yours on it. The others get a `reaction` frame; the message moves to a new version.')
  }, async (request, reply) => {
    await service.addReaction(request.userId, request.params.id, request.params.messageId, request.params.emoji)
    return reply.code(204).send(null)
  })

  app.delete('/:id/messages/:messageId/reactions/:emoji', {
    schema: reactionSchema('removeReaction', 'Take a reaction back', 'Idempotent: removing a reaction that is not there changes nothing.')
  }, async (request, reply) => {
    await service.removeReaction(request.userId, request.params.id, request.params.messageId, request.params.emoji)
    return reply.code(204).send(null)
  })

  app.get('/:id/pins', {
    schema: {
      tags,
      operationId: 'listPins',
      summary: 'Pinned messages',
      description: 'The newest pin first (at most MAX_PINS_PER_CONVERSATION). Participants only.',
      params: ConversationParams,
      response: responses({ 200: PinList }, 403, 404)
    }
  }, async (request) => service.pins(request.userId, request.params.id))

  const pinSchema = (operationId: string, summary: string, description: string) => idempotentSchema(MessageParams, [403, 404, 409], operationId, summary, description)

  app.put('/:id/pins/:messageId', {
    schema: pinSchema('pinMessage', 'Pin a message', 'Idempotent. In a group, owners and admins; in a direct conversation, either participant. 409 on a deleted message or past MAX_PINS_PER_CONVERSATION. The message (with pinnedAt, pinnedBy) goes out as message_updated.')
  }, async (request, reply) => {
    await service.pin(request.userId, request.params.id, request.params.messageId)
    return reply.code(204).send(null)
  })

  app.delete('/:id/pins/:messageId', {
    schema: pinSchema('unpinMessage', 'Unpin a message', 'Idempotent; the same roles as pinning.')
  }, async (request, reply) => {
    await service.unpin(request.userId, request.params.id, request.params.messageId)
    return reply.code(204).send(null)
  })

  app.post('/:id/read', {
    schema: {
      tags,
      operationId: 'markRead',
      summary: 'Move my read watermark',
      description: 'Marks every message up to seq as read (and delivered). The watermark never moves backwards; a seq past the last message counts as the last.',
      params: ConversationParams,
      body: ReadBody,
      response: responses({ 204: Type.Null({ description: 'recorded' }) }, 403, 404)
    }
  }, async (request, reply) => {
    await service.acknowledge(request.userId, request.params.id, 'read', request.body.seq)
    return reply.code(204).send(null)
  })
}

export default messages
