import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import { createAuthService, type AuthService } from '../src/services/auth.js'
import { createUserService, type UserService } from '../src/services/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    services: {
      auth: AuthService
      users: UserService
    }
  }
}

/** Wires the use cases from src/services to the store, broker and token signer. */
export default fp(async (app) => {
  const { store, config } = app
  app.decorate('services', {
    auth: createAuthService({
      store,
      signAccessToken: (userId) => app.jwt.sign({ sub: userId, jti: randomUUID() }),
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlDays: config.REFRESH_TOKEN_TTL_DAYS
    }),
    users: createUserService({ store })
  })
}, { name: 'services', dependencies: ['config', 'store', 'broker', 'auth'] })
