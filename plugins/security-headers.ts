import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'

/**
 * Security headers on every answer (@fastify/helmet): no sniffing (a JSON
 * error is never read as HTML), no framing, no referrer, HSTS, and a content
 * security policy that lets an API answer load nothing at all. The pages that
 * are pages set their own: the demo (plugins/web.ts) and the API docs UI
 * (@fastify/swagger-ui's: plugins/swagger.ts).
 */
export default fp(async (app) => {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"] } },
    // Answers are read cross-origin by apps on other origins (CORS decides who); files will be embedded there too.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    referrerPolicy: { policy: 'no-referrer' }
  })
}, { name: 'security-headers' })
