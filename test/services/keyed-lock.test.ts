import t from 'tap'
import { createKeyedLock } from '../../src/services/keyed-lock.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('tasks of one key run one at a time, in order; other keys do not wait; a failure does not block', async (t) => {
  const withLock = createKeyedLock()
  const log: string[] = []
  const task = (name: string, ms: number, fail = false) => async () => {
    log.push(`start ${name}`)
    await sleep(ms)
    log.push(`end ${name}`)
    if (fail) throw new Error(name)
    return name
  }
  const results = await Promise.allSettled([
    withLock('a', task('a1', 30, true)),
    withLock('a', task('a2', 10)),
    withLock('b', task('b1', 5))
  ])
  t.same(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)), ['a1', 'a2', 'b1'])
  t.same(log, ['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2'])
})
