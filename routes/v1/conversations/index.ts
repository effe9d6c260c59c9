import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { responses } from '../../../src/schemas/common.js'
import { ConversationRef } from '../../../src/schemas/conversations.js'
import {
  AddParticipantsBody, ConversationPage, ConversationParams, CreateConversationBody, ListQuery,
  ParticipantList, ParticipantParams, SetRoleBody, UpdateConversationBody
} from './schemas.js'
import messageRoutes from './messages.js'
import webhookRoutes from './webhooks.js'
import attachmentRoutes from './attachments.js'


/** Protected: conversations and their participants. Non-participants get 403 for everything about a conversation. */
const conversations: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.services.conversations
  const tags = ['conversations']

  app.post('/', {
    schema: {
      tags,
      operationId: 'createConversation',
      summary: 'Start a conversation',
      description: 'A direct conversation with one other user (answered with 200 when it exists already, also when both ask at once), or a group with a name; its creator is the owner. 409 when the creator has MAX_GROUPS_PER_USER groups already.',
      body: CreateConversationBody,
      response: responses({ 200: ConversationRef, 201: ConversationRef }, 409, 429)
    }
  }, async (request, reply) => {
    const { conversation, created } = await service.create(request.userId, request.body)
    return reply.code(created ? 201 : 200).send(conversation)
  })

  app.get('/', {
    schema: {
      tags,
      operationId: 'listConversations',
      summary: 'My conversations',
      description: 'Most recent activity first, with lastMessage, lastSeq and unreadCount. Pass nextCursor as cursor for the next page.',
      querystring: ListQuery,
      response: responses({ 200: ConversationPage })
    }
  }, async (request) => service.list(request.userId, request.query.limit, request.query.cursor))

  app.get('/:id', {
    schema: { tags, operationId: 'getConversation', summary: 'A conversation', description: 'With lastMessage, lastSeq and my unreadCount. 403 for non-participants.', params: ConversationParams, response: responses({ 200: ConversationRef }, 403, 404) }
  }, async (request) => service.get(request.userId, request.params.id))

  app.patch('/:id', {
    schema: {
      tags,
      operationId: 'updateConversation',
      summary: 'Rename a group or set its avatar',
      description: 'Group owner and admins only.',
      params: ConversationParams,
      body: UpdateConversationBody,
      response: responses({ 200: ConversationRef }, 403, 404, 429)
    }
  }, async (request) => service.update(request.userId, request.params.id, request.body))

  app.get('/:id/participants', {
    schema: { tags, operationId: 'listParticipants', summary: 'Participants with their roles and watermarks', description: 'Oldest member first. deliveredSeq and readSeq are each member\'s receipt watermarks.', params: ConversationParams, response: responses({ 200: ParticipantList }, 403, 404) }
  }, async (request) => ({ items: await service.participants(request.userId, request.params.id) }))

  app.post('/:id/participants', {
    schema: {
      tags,
      operationId: 'addParticipants',
      summary: 'Add participants to a group',
      description: 'Group owner and admins only; existing participants are ignored.',
      params: ConversationParams,
      body: AddParticipantsBody,
      response: responses({ 200: ConversationRef }, 403, 404, 429)
    }
  }, async (request) => service.addParticipants(request.userId, request.params.id, request.body.userIds))

  app.delete('/:id/participants/:userId', {
    schema: {
      tags,
      operationId: 'removeParticipant',
      summary: 'Remove a participant, or leave',
      description: 'Anyone may remove themself (leave); the owner may remove anyone, admins may remove members. When the last owner leaves, the oldest admin (else the oldest member) becomes the owner.',
      params: ParticipantParams,
      response: responses({ 204: Type.Null({ description: 'removed' }) }, 403, 404, 429)
    }
  }, async (request, reply) => {
    await service.removeParticipant(request.userId, request.params.id, request.params.userId)
    return reply.code(204).send(null)
  })

  app.put('/:id/participants/:userId/role', {
    schema: {
      tags,
      operationId: 'setParticipantRole',
      summary: 'Set a participant\'s role',
      description: 'Owner only. Setting `owner` hands ownership on and makes the old owner an admin.',
      params: ParticipantParams,
      body: SetRoleBody,
      response: responses({ 200: ConversationRef }, 403, 404, 429)
    }
  }, async (request) => service.setRole(request.userId, request.params.id, request.params.userId, request.body.role))

  await app.register(messageRoutes)
  await app.register(webhookRoutes)
  await app.register(attachmentRoutes)
}

export default conversations
