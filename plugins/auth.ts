import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { unauthorized } from '../src/domain/errors.js'
import { botOfApiKey, botSessionId, isApiKey } from '../src/services/bots.js'

/** A bot's socket closes this long after it opened (it reconnects with its key); under the longest timer Node keeps. */
const BOT_SOCKET_LIFETIME_MS = 20 * 86400_000

export interface AccessTokenClaims {
  /** the user id */
  sub: string
  /** the token id */
  jti: string
  /** the session: the refresh-token family it was issued with (logout revokes it) */
  sid: string
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessTokenClaims
    user: AccessTokenClaims
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook for protected folders: 401 unless a valid access token is presented. */
    authenticate (request: FastifyRequest): Promise<void>
    /** Verifies an access token (or a bot's API key) given outside the Authorization header (the websocket's ?token=); 401 when invalid or its session is revoked. */
    verifyAccessToken (token: string): Promise<AccessTokenClaims & { exp?: number }>
  }
  interface FastifyRequest {
    /** The authenticated user's id; set by authenticate. */
    userId: string
  }
}

/** Who issues access tokens, and for whom: both required in every token this server accepts. */
export const ACCESS_TOKEN_ISSUER = 'chat-backend'
export const ACCESS_TOKEN_AUDIENCE = 'chat-backend:api'

/**
 * JWT access tokens: HS256 only (so `alg: none` and other algorithms are
 * refused), with the configured lifetime. On every request: the signature,
 * `iss` and `aud` ours, `exp` and `iat` present, and no token older than the
 * lifetime (a token signed with the secret elsewhere, without an expiry, is refused).
 * And its session not revoked: logout and a reused refresh token revoke a
 * session's access tokens at once, on every node (the revocations port; while
 * Redis does not answer, the store's record of revoked families is asked).
 */
export default fp(async (app) => {
  const ttl = app.config.ACCESS_TOKEN_TTL_SECONDS
  await app.register(fastifyJwt, {
    secret: app.config.JWT_SECRET,
    sign: { algorithm: 'HS256', expiresIn: ttl, iss: ACCESS_TOKEN_ISSUER, aud: ACCESS_TOKEN_AUDIENCE },
    verify: { algorithms: ['HS256'], allowedIss: ACCESS_TOKEN_ISSUER, allowedAud: ACCESS_TOKEN_AUDIENCE, requiredClaims: ['exp', 'iat', 'iss', 'aud'], maxAge: ttl }
  })
  app.decorateRequest('userId', '')

  const isClaims = (value: unknown): value is AccessTokenClaims =>
    typeof value === 'object' && value !== null &&
    typeof (value as AccessTokenClaims).sub === 'string' && typeof (value as AccessTokenClaims).jti === 'string' &&
    typeof (value as AccessTokenClaims).sid === 'string'

  const revoked = (sessionId: string): Promise<boolean> =>
    app.revocations.isRevoked(sessionId).catch(() => app.store.refreshTokens.isFamilyRevoked(sessionId))
  const refuseRevoked = async (claims: AccessTokenClaims) => {
    if (await revoked(claims.sid)) throw unauthorized('the session of this access token has ended')
  }

  app.decorate('authenticate', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header === undefined || !/^Bearer \S+$/.test(header)) throw unauthorized('a Bearer access token is required')
    const token = header.slice(7)
    // A bot's API key: looked up on every request, so a revoked key is refused at once.
    if (isApiKey(token)) { request.userId = await botOfApiKey(app.store, token); return }
    let claims: unknown
    try {
      claims = await request.jwtVerify()
    } catch (err) {
      const expired = (err as { code?: string }).code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED'
      throw unauthorized(expired ? 'the access token has expired' : 'the access token is invalid')
    }
    if (!isClaims(claims)) throw unauthorized('the access token is invalid')
    await refuseRevoked(claims)
    request.userId = claims.sub
  })

  app.decorate('verifyAccessToken', async (token: string) => {
    if (isApiKey(token)) {
      const botId = await botOfApiKey(app.store, token)
      return { sub: botId, jti: '', sid: botSessionId(botId), exp: Math.floor((Date.now() + BOT_SOCKET_LIFETIME_MS) / 1000) }
    }
    let claims: unknown
    try {
      claims = app.jwt.verify(token)
    } catch {
      throw unauthorized('the access token is invalid or expired')
    }
    if (!isClaims(claims)) throw unauthorized('the access token is invalid')
    await refuseRevoked(claims)
    return claims
  })
}, { name: 'auth', dependencies: ['config', 'errors', 'store', 'revocations'] })
