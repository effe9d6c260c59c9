import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'

/** web/ from the source tree or from dist/ (the compiled server lives one level deeper). */
function webRoot (): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url))
  return [join(here, '..', 'web'), join(here, '..', '..', 'web')].find((dir) => existsSync(join(dir, 'index.html')))
}

/**
 * The demo web client at `/`: web/index.html, its stylesheet, and the bundle
 * that `npm run build:web` makes from web/src (it is part of `npm run build`).
 */
export default fp(async (app) => {
  const root = webRoot()
  if (root === undefined) return
  if (!existsSync(join(root, 'dist', 'app.js'))) {
    app.log.warn('the demo web client is not built: run `npm run build:web` (npm start does)')
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: ['index.html'],
    wildcard: false,
    allowedPath: (path) => path === '/' || path === '/index.html' || path === '/styles.css' || path.startsWith('/dist/'),
    schemaHide: true,
    setHeaders: (res) => {
      res.header('x-content-type-options', 'nosniff')
      // The page loads only its own script and style and talks only to this origin (REST and websocket).
      res.header('content-security-policy', "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
    }
  })
}, { name: 'web' })
