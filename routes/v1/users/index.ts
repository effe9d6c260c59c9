import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { refOf, responses } from '../../../src/schemas/common.js'
import { SelfUser, PublicUser } from '../../../src/schemas/users.js'
import { SearchQuery, UpdateMeBody, UserList, UserParams } from './schemas.js'

/** Protected: one's own profile, other users' public profiles, and search. Emails are shown only to their owner. */
const users: FastifyPluginAsyncTypebox = async (app) => {
  const { users: userService } = app.services

  app.get('/me', {
    schema: {
      tags: ['users'],
      operationId: 'getMe',
      summary: 'My profile',
      description: 'The signed-in user, with their email.',
      response: responses({ 200: refOf(SelfUser) }, 404)
    }
  }, async (request) => userService.me(request.userId))

  app.patch('/me', {
    schema: {
      tags: ['users'],
      operationId: 'updateMe',
      summary: 'Update my profile',
      description: 'Sets or clears (with null) the display name and the avatar URL.',
      body: UpdateMeBody,
      response: responses({ 200: refOf(SelfUser) }, 404)
    }
  }, async (request) => userService.updateMe(request.userId, request.body))

  app.get('/', {
    schema: {
      tags: ['users'],
      operationId: 'searchUsers',
      summary: 'Search users',
      description: `Users whose username starts with \`query\` (without regard to case), by username, at most \`limit\` (≤ ${SearchQuery.properties.limit.maximum}). Public fields only.`,
      querystring: SearchQuery,
      response: responses({ 200: UserList })
    }
  }, async (request) => ({ items: await userService.search(request.query.query, request.query.limit) }))

  app.get('/:id', {
    schema: {
      tags: ['users'],
      operationId: 'getUser',
      summary: 'A user\'s public profile',
      description: 'Public fields only: never the email.',
      params: UserParams,
      response: responses({ 200: refOf(PublicUser) }, 404)
    }
  }, async (request) => userService.get(request.params.id))
}

export default users
