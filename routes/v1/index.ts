import type { FastifyPluginAsync, RouteOptions } from 'fastify'
import { PublicUser, SelfUser } from '../../src/schemas/users.js'
import authRoutes from './auth/index.js'
import usersRoutes from './users/index.js'
import conversationRoutes from './conversations/index.js'
import webhookSendRoutes from './webhooks/index.js'
import wsRoutes from './ws/index.js'
import presenceRoutes from './presence/index.js'
import attachmentRoutes from './attachments/index.js'
import searchRoutes from './search/index.js'
import botRoutes from './bots/index.js'
import adminRoutes from './admin/index.js'
import { Conversation, Message } from '../../src/schemas/conversations.js'

/**
 * The /v1 API. Public folders are registered as they are; protected folders
 * inside one scope whose onRequest hook authenticates (auth by folder, not by
 * URL string), and which marks each of its routes with the bearer scheme and
 * a 401 answer in the OpenAPI document.
 */
const v1: FastifyPluginAsync = async (app) => {
  app.addSchema(PublicUser)
  app.addSchema(SelfUser)
  app.addSchema(Conversation)
  app.addSchema(Message)

  await app.register(authRoutes, { prefix: '/auth' })
  await app.register(webhookSendRoutes, { prefix: '/webhooks' })
  // Authenticates itself before the upgrade (the token may come in the query).
  await app.register(wsRoutes)
  // Signed links need no header; without one it authenticates by itself.
  await app.register(attachmentRoutes, { prefix: '/attachments' })
  // Behind ADMIN_API_TOKEN, not a user's token.
  await app.register(adminRoutes, { prefix: '/admin' })

  await app.register(async (authenticated) => {
    authenticated.addHook('onRequest', app.authenticate)
    authenticated.addHook('onRoute', (route: RouteOptions) => {
      const schema = route.schema ?? {}
      route.schema = {
        ...schema,
        security: [{ bearerAuth: [] }],
        response: {
          ...(schema.response as object | undefined),
          401: { $ref: 'Error', description: 'UNAUTHORIZED: missing, malformed, expired or wrongly signed access token' }
        }
      }
    })
    await authenticated.register(usersRoutes, { prefix: '/users' })
    await authenticated.register(conversationRoutes, { prefix: '/conversations' })
    await authenticated.register(presenceRoutes, { prefix: '/presence' })
    await authenticated.register(searchRoutes, { prefix: '/search' })
    await authenticated.register(botRoutes, { prefix: '/bots' })
  })
}

export default v1
