import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DateTime, Id, refOf, responses } from '../../../src/schemas/common.js'
import { DisplayName, PublicUser, Username } from '../../../src/schemas/users.js'

const CreateBotBody = Type.Object({ username: Username, name: Type.Optional(DisplayName) }, { additionalProperties: false })
const Bot = Type.Object({
  bot: refOf(PublicUser),
  ownerId: Id,
  createdAt: DateTime,
  revoked: Type.Boolean({ description: 'its key is refused and its sockets were closed' })
}, { title: 'Bot' })
const CreatedBot = Type.Intersect([Bot, Type.Object({
  apiKey: Type.String({ description: 'shown this once: `Authorization: Bearer <apiKey>` on REST and on the websocket', examples: ['cbk_665f1c2ab4d5e6f7a8b9c0d1_…'] })
})], { title: 'CreatedBot' })
const BotParams = Type.Object({ id: Id }, { additionalProperties: false })

/** Protected: bots, owned by the user who created them. */
const bots: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.services.bots
  const tags = ['bots']

  app.post('/', {
    schema: {
      tags,
      operationId: 'createBot',
      summary: 'Create a bot',
      description: 'Any person (not a bot) may create one; they own it. The bot is a user of kind bot (`bot: true` in user views): it can be added to conversations and send like any participant, under the same rate limits, with `Authorization: Bearer <apiKey>` on REST and on the websocket. The key is shown this once and kept only as a hash. 409 when the username is taken or the owner has MAX_BOTS_PER_USER bots.',
      body: CreateBotBody,
      response: responses({ 201: CreatedBot }, 403, 409)
    }
  }, async (request, reply) => reply.code(201).send(await service.create(request.userId, request.body)))

  app.get('/', {
    schema: { tags, operationId: 'listBots', summary: 'My bots', description: 'The bots I own, revoked ones too, oldest first; never their keys.', response: responses({ 200: Type.Object({ items: Type.Array(Bot) }, { title: 'BotList' }) }) }
  }, async (request) => ({ items: await service.list(request.userId) }))

  app.delete('/:id', {
    schema: {
      tags,
      operationId: 'revokeBot',
      summary: 'Revoke a bot',
      description: 'Its owner only. Its key is refused from now on, on every node, and its open sockets close. The bot stays a user: its messages keep their sender.',
      params: BotParams,
      response: responses({ 204: Type.Null({ description: 'revoked' }) }, 403, 404)
    }
  }, async (request, reply) => {
    await service.revoke(request.userId, request.params.id)
    return reply.code(204).send(null)
  })
}

export default bots
