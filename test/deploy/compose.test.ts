/**
 * docker-compose.yml, checked for what can be checked without a container
 * engine: it parses, every service has a health check, the app's
 * environment names only settings the server knows, and the files it
 * mounts are in the repository, nginx's upstreams naming its app services.
 * (The MongoDB and Redis images it names are never run here.)
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { ConfigSchema } from '../../src/config.js'
import { root } from '../../scripts/services.mjs'

interface Service { image?: string, build?: string, environment?: Record<string, string>, healthcheck?: { test: string[] }, volumes?: string[], depends_on?: unknown }

t.test('docker-compose.yml: parses, health checks everywhere, known settings, mounted files present', async (t) => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> }
  const services = compose.services
  t.same(Object.keys(services).sort(), ['app1', 'app2', 'lb', 'mongo', 'redis'])
  for (const [name, s] of Object.entries(services)) t.ok((s.healthcheck?.test.length ?? 0) > 1, `${name} has a health check`)
  const known = new Set(Object.keys(ConfigSchema.properties))
  for (const name of ['app1', 'app2']) {
    const s = services[name]!
    t.equal(s.build, '.', `${name} is built from the Dockerfile`)
    for (const key of Object.keys(s.environment ?? {})) t.ok(known.has(key), `${name}: ${key} is a setting src/config.ts knows`)
    t.match(s.environment, { NODE_ENV: 'production', TRUST_PROXY: '1' }, `${name}: production, behind one proxy`)
  }
  for (const volume of services.lb!.volumes ?? []) {
    const source = volume.split(':')[0]!
    t.ok(existsSync(join(root, source)), `lb mounts ${source}, which is in the repository`)
  }
  const upstreams = readFileSync(join(root, 'deploy', 'nginx', 'upstreams.conf'), 'utf8')
  for (const name of ['app1', 'app2']) t.match(upstreams, new RegExp(`server ${name}:3000`), `nginx's upstreams name ${name} on the default port`)
})
