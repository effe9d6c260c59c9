/**
 * The real image: the Dockerfile as it is, built by podman on a stand-in
 * base image (scripts/image.mjs), then its files run by chroot as its user,
 * from its WORKDIR, with its CMD, on the run's MongoDB and Redis: the node
 * is ready, serves the demo and the docs, passes its own HEALTHCHECK and the
 * README walk-through, and carries production dependencies only.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildImage, ensureBaseImage, imageConfig, mountImage, unmountImage } from '../../scripts/image.mjs'
import { freePort, root, waitFor } from '../../scripts/services.mjs'
import { markSuiteRan, mongoTestUrl, requireTool } from '../services.js'

/** The host's chroot (the server's environment is the image's, whose PATH has no sbin). */
const CHROOT = existsSync('/usr/sbin/chroot') ? '/usr/sbin/chroot' : 'chroot'

t.test('the image builds from the Dockerfile and its files serve', async (t) => {
  if (requireTool(t, 'podman', 'podman') === undefined) return
  const mongoUrl = mongoTestUrl(t)
  const redisUrl = process.env.TEST_REDIS_URL
  if (mongoUrl === undefined || redisUrl === undefined) return
  markSuiteRan(t, 'image')
  ensureBaseImage((msg) => t.comment(msg))
  const built = buildImage()
  t.ok(built.ok, built.ok ? 'podman build of the Dockerfile' : `podman build failed:\n${built.output.slice(-3000)}`)
  if (!built.ok) return

  const config = imageConfig() as { User: string, WorkingDir: string, Cmd: string[], Env: string[], Healthcheck: { Test: string[] } | null }
  t.equal(config.User, 'node', 'runs as the node user')
  t.equal(config.WorkingDir, '/app')
  t.same(config.Cmd, ['node', 'dist/src/server.js'])
  t.ok(config.Healthcheck !== null && config.Healthcheck.Test.length > 1, 'has a health check')

  const files = mountImage()
  t.teardown(() => unmountImage())
  t.notOk(existsSync(join(files, 'app', 'node_modules', 'typescript')), 'no dev dependencies (typescript)')
  t.notOk(existsSync(join(files, 'app', 'node_modules', 'tap')), 'nor tap')
  t.ok(existsSync(join(files, 'app', 'web', 'dist', 'app.js')), 'the demo\'s bundle is in it')
  t.notOk(existsSync(join(files, 'app', 'src')), 'no TypeScript sources')

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const imageEnv = Object.fromEntries(config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
  const env = {
    ...imageEnv,
    PORT: String(port),
    HOST: '127.0.0.1',
    JWT_SECRET: 'an image test secret that is long enough 0123456789',
    PUBLIC_URL: base,
    METRICS_TOKEN: 'image-test-metrics-token',
    MONGODB_URL: mongoUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `image${process.pid}:`,
    LOG_LEVEL: 'warn'
  }
  // podman run is refused here: the image's files, as its user, from its WORKDIR, with its CMD. (Without
  // NODE_OPTIONS: tap adds its own loader there for every child process, a file the image does not have.)
  const inImage = (command: string) => ['--userspec=1000:1000', files, '/bin/sh', '-c', `cd ${config.WorkingDir} && exec env -u NODE_OPTIONS ${command}`]
  const server = spawn(CHROOT, inImage(config.Cmd.join(' ')), { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  server.stdout.on('data', (d) => { out += d })
  server.stderr.on('data', (d) => { out += d })
  t.teardown(async () => {
    if (server.exitCode !== null) return
    server.kill('SIGTERM')
    await once(server, 'exit')
  })
  await waitFor(async () => {
    if (server.exitCode !== null) throw new Error(`the image's server exited:\n${out}`)
    try { return (await fetch(`${base}/health/live`)).ok } catch { return false }
  }, 'the image\'s server', 60_000)

  const ready = await fetch(`${base}/health/ready`)
  t.equal(ready.status, 200)
  t.match(await ready.json(), { status: 'ready', checks: { store: { kind: 'mongo', status: 'up' }, broker: { kind: 'redis', status: 'up' } } }, 'ready on MongoDB and Redis')
  const demo = await fetch(`${base}/`)
  t.equal(demo.status, 200, 'the demo at /')
  t.match(await demo.text(), /<html/i)
  t.equal((await fetch(`${base}/dist/app.js`)).status, 200, 'and its bundle')
  const docs = await fetch(`${base}/docs`)
  t.equal(docs.status, 200, 'the API docs at /docs')
  t.equal((await fetch(`${base}/metrics`)).status, 401, 'production: /metrics wants its token')

  const health = config.Healthcheck!.Test
  const check = spawnSync(CHROOT, inImage(health[0] === 'CMD-SHELL' ? health[1]! : health.slice(1).join(' ')), { env, encoding: 'utf8', timeout: 10_000 })
  t.equal(check.status, 0, `the image's HEALTHCHECK passes: ${check.stderr}`)

  const walk = spawnSync(process.execPath, [join(root, 'scripts', 'walkthrough.mjs'), base], { encoding: 'utf8', timeout: 120_000 })
  t.equal(walk.status, 0, walk.status === 0 ? 'the README walk-through against the image' : `${walk.stdout}\n${walk.stderr}`)
  t.match(walk.stdout, /walk-through complete/)
})
