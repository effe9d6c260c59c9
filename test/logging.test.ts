/**
 * Logs for people in development (pino-pretty, on a terminal), JSON
 * everywhere else; redaction the same either way.
 */
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { root } from '../scripts/services.mjs'
import { readableLogs } from '../src/logging.js'

t.test('pretty only in development on a terminal', async (t) => {
  t.equal(readableLogs('development', { isTTY: true }), true)
  t.equal(readableLogs('development', { isTTY: false }), false, 'a pipe or a file gets JSON')
  t.equal(readableLogs('development', {}), false)
  t.equal(readableLogs('production', { isTTY: true }), false, 'production is JSON, even on a terminal')
  t.equal(readableLogs('test', { isTTY: true }), false)
})

t.test('through pino-pretty a record is a readable line, and secrets are still redacted', async (t) => {
  const program = `
    import Fastify from 'fastify'
    import { loggerOptions } from './src/logging.ts'
    const pretty = process.argv[1] === 'pretty'
    const app = Fastify({ logger: loggerOptions('info', pretty) })
    app.log.info({ user: { password: 'hunter2-secret' }, req: { method: 'GET', url: '/v1/ws?token=abc.def.ghi' } }, 'hello from the node')
    await app.close()
  `
  const run = (mode: string) => spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program, mode], { cwd: root, encoding: 'utf8', timeout: 30_000 })
  const pretty = run('pretty')
  t.equal(pretty.status, 0, pretty.stderr)
  const line = pretty.stdout.split('\n').find((l) => l.includes('hello from the node'))
  t.ok(line !== undefined && !line.trimStart().startsWith('{'), `a line for a person: ${line}`)
  t.match(line, /INFO/, 'with its level in words')
  t.notMatch(pretty.stdout, /hunter2-secret|abc\.def\.ghi/, 'no secret')
  t.match(pretty.stdout, /\[redacted\]/)
  const json = run('json')
  t.equal(json.status, 0, json.stderr)
  const record = JSON.parse(json.stdout.split('\n').find((l) => l.includes('hello from the node'))!) as { level: number, msg: string, user: { password: string } }
  t.same([record.level, record.msg, record.user.password], [30, 'hello from the node', '[redacted]'], 'JSON otherwise, redacted alike')
  t.notMatch(json.stdout, /abc\.def\.ghi/)
})
