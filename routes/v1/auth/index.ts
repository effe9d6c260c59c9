import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { responses } from '../../../src/schemas/common.js'
import { LoginBody, RefreshBody, RegisterBody, Session } from './schemas.js'

/** Public: registration, login and refresh-token rotation. Each is rate limited per IP; login also per login name. */
const auth: FastifyPluginAsyncTypebox = async (app) => {
  const { auth: authService } = app.services
  // Answers carry tokens: no cache (a browser's or a proxy's) may keep them.
  app.addHook('onSend', async (_request, reply) => { reply.header('cache-control', 'no-store') })

  app.post('/register', {
    onRequest: app.limiter('registerIp'),
    schema: {
      tags: ['auth'],
      operationId: 'register',
      summary: 'Create an account',
      description: 'Creates a user and opens a session. Usernames and emails are unique without regard to case.',
      body: RegisterBody,
      response: responses({ 201: Session }, 409, 429)
    }
  }, async (request, reply) => reply.code(201).send(await authService.register(request.body)))

  app.post('/login', {
    onRequest: app.limiter('loginIp'),
    // The body is parsed by preHandler time; the per-name limit protects one account from many addresses.
    // Keyed on the account the login names, so its username and its email share one budget.
    preHandler: app.limiter('loginName', async (request) => {
      const login = String((request.body as { login?: unknown }).login).toLowerCase()
      const user = await app.store.users.findByLogin(login)
      return user === null ? `name:${login}` : `user:${user.id}`
    }),
    schema: {
      tags: ['auth'],
      operationId: 'login',
      summary: 'Log in',
      description: 'Opens a session for a username or an email and its password. A wrong login and a wrong password are indistinguishable.',
      body: LoginBody,
      response: responses({ 200: Session }, 401, 429)
    }
  }, async (request) => authService.login(request.body))

  app.post('/refresh', {
    onRequest: app.limiter('refreshIp'),
    schema: {
      tags: ['auth'],
      operationId: 'refreshTokens',
      summary: 'Rotate the refresh token',
      description: 'Answers a new access token and a new refresh token; the old refresh token stops working at once. Presenting an already rotated token revokes its whole family (401).',
      body: RefreshBody,
      response: responses({ 200: Session }, 401, 429)
    }
  }, async (request) => authService.refresh(request.body.refreshToken))

  app.post('/logout', {
    schema: {
      tags: ['auth'],
      operationId: 'logout',
      summary: 'Log out',
      description: 'Revokes the refresh token and every token of its family. Answers 204 whether or not the token was known.',
      body: RefreshBody,
      response: responses({ 204: Type.Null({ description: 'logged out' }) })
    }
  }, async (request, reply) => {
    await authService.logout(request.body.refreshToken)
    return reply.code(204).send(null)
  })
}

export default auth
