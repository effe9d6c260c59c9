/**
 * A node killed with SIGKILL (no close frames, no offline events): its users
 * go offline on the other node within the presence expiry, its clients
 * reconnect elsewhere and sync, and nothing it acknowledged is lost.
 */
import { spawn } from 'node:child_process'
import t from 'tap'
import { buildTestApp, client, register, TEST_JWT_SECRET } from '../helper.js'
import { WsClient } from '../ws-client.js'
import { FAST_ENV } from './nodes.js'

const SERVER = new URL('../../src/server.ts', import.meta.url).pathname

t.test('SIGKILL of a node: presence expires, clients resume on another node, acked messages survive', async (t) => {
  const built = await buildTestApp(t, { store: 'mongo', broker: 'redis', env: FAST_ENV })
  if (built === undefined) return
  const { app } = built
  const baseA = await app.listen({ port: 0, host: '127.0.0.1' })

  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: {
      PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'test',
      MONGODB_URL: built.mongoUrl!, REDIS_URL: process.env.TEST_REDIS_URL!, REDIS_PREFIX: built.redisPrefix!,
      JWT_SECRET: TEST_JWT_SECRET, RATE_LIMITS: 'off', ...FAST_ENV
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const baseB = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`node B did not start:\n${out}`)), 20_000)
    const onData = (d: Buffer) => {
      out += d
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
  })

  const ann = client(app, await register(app, 'doomed'))
  const ben = client(app, await register(app, 'watcher'))
  const id = (await ann.post('/v1/conversations', { type: 'direct', participantIds: [ben.user.id] })).body.id
  const watcher = await WsClient.connect(baseA, ben.user.accessToken)
  t.teardown(() => watcher.close())
  await watcher.roundTrip()

  const onB = await WsClient.connect(baseB, ann.user.accessToken)
  // A child process joining under a loaded CI machine: allow it time; no bound is being tested here.
  await watcher.waitFor('presence_update', (f) => f.userId === ann.user.id && f.status === 'online', 1, 15_000)
  for (let i = 1; i <= 5; i++) onB.send({ type: 'send_message', conversationId: id, content: `acked ${i}`, clientMessageId: `d-${i}` })
  const acks = await onB.waitFor('message_sent', () => true, 5)
  await watcher.waitFor('new_message', () => true, 5)

  child.kill('SIGKILL')
  const killedAt = Date.now()
  const closed = await onB.waitClosed()
  t.not(closed.code, 1012, 'no goodbye from a killed node')
  const [offline] = await watcher.waitFor('presence_update', (f) => f.userId === ann.user.id && f.status === 'offline', 1, 5000)
  t.ok(offline, `offline after ${Date.now() - killedAt} ms (lease ${FAST_ENV.PRESENCE_TTL_MS} ms)`)

  const resumed = await WsClient.connect(baseA, ann.user.accessToken)
  t.teardown(() => resumed.close())
  resumed.send({ type: 'sync', cursors: { [id]: 0 } })
  await resumed.waitFor('sync_complete')
  t.same(resumed.all('new_message').map((f) => f.message.id), acks.map((a) => a.messageId), 'every acked message, once, in order')
  const [online] = await watcher.waitFor('presence_update', (f) => f.userId === ann.user.id && f.status === 'online', 2, 15_000)
  t.ok(online, 'online again on the surviving node')
})
