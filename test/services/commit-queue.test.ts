import t from 'tap'
import { createCommitQueue, type Outcome } from '../../src/services/commit-queue.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A queue whose commit records each batch, takes `ms`, and fails drafts named 'bad'. */
function recording (ms = 10, maxBatch = 64) {
  const batches: Array<{ key: string, drafts: string[] }> = []
  const running = new Set<string>()
  let overlapped = false
  const queue = createCommitQueue<string, string>(async (key, drafts) => {
    if (running.has(key)) overlapped = true
    running.add(key)
    batches.push({ key, drafts })
    await sleep(ms)
    running.delete(key)
    if (drafts.includes('boom')) throw new Error('commit failed')
    return drafts.map((d): Outcome<string> => d === 'bad' ? { ok: false, error: new Error(d) } : { ok: true, value: `${key}:${d}` })
  }, { maxBatch })
  return { queue, batches, overlapped: () => overlapped }
}

t.test('drafts are committed in the order their slots were reserved, whatever order their checks end in', async (t) => {
  const { queue, batches } = recording()
  const slots = ['d1', 'd2', 'd3', 'd4'].map((d) => ({ d, slot: queue.reserve('c') }))
  // Checks end in reverse order.
  const results = await Promise.all(slots.map(async ({ d, slot }, i) => { await sleep((4 - i) * 5); return slot.fill(d) }))
  t.same(results, ['c:d1', 'c:d2', 'c:d3', 'c:d4'])
  t.same(batches.flatMap((b) => b.drafts), ['d1', 'd2', 'd3', 'd4'])
  t.equal(batches.length, 1, 'all four were ready when the head was: one commit')
  t.equal(queue.pendingKeys, 0, 'nothing held afterwards')
})

t.test('while a batch is written the next gathers; one commit at a time per key; keys are independent', async (t) => {
  const { queue, batches, overlapped } = recording(20)
  const first = queue.reserve('c').fill('a')
  await sleep(5)
  const later = ['b', 'c', 'd'].map((d) => queue.reserve('c').fill(d))
  const other = queue.reserve('other').fill('x')
  t.same(await Promise.all([first, ...later, other]), ['c:a', 'c:b', 'c:c', 'c:d', 'other:x'])
  t.same(batches.filter((b) => b.key === 'c').map((b) => b.drafts), [['a'], ['b', 'c', 'd']])
  t.notOk(overlapped(), 'two batches of one key never ran at once')
  t.same(batches.map((b) => b.key), ['c', 'other', 'c'], 'the other key did not wait for c')
})

t.test('cancelled slots are skipped; a slot still being checked holds back the ones behind it', async (t) => {
  const { queue, batches } = recording(1)
  const a = queue.reserve('c')
  const b = queue.reserve('c')
  const c = queue.reserve('c')
  const cDone = c.fill('c')
  await sleep(10)
  t.same(batches, [], 'c waits for a and b')
  b.cancel()
  const aDone = a.fill('a')
  t.same(await Promise.all([aDone, cDone]), ['c:a', 'c:c'])
  t.same(batches.map((x) => x.drafts), [['a', 'c']])
  t.throws(() => a.fill('again'), /already used/)
  t.equal(queue.pendingKeys, 0)
})

t.test('each draft gets its own outcome; a commit that throws fails its whole batch and not the next', async (t) => {
  const { queue } = recording(5)
  const results = await Promise.allSettled(['ok1', 'bad', 'ok2'].map((d) => queue.reserve('c').fill(d)))
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'])
  const [boom, beside] = [queue.reserve('c'), queue.reserve('c')]
  const besideDone = beside.fill('beside boom')
  const failed = await Promise.allSettled([boom.fill('boom'), besideDone])
  t.same(failed.map((r) => r.status), ['rejected', 'rejected'])
  t.equal(await queue.reserve('c').fill('after'), 'c:after')
})

t.test('a batch holds at most maxBatch drafts', async (t) => {
  const { queue, batches } = recording(5, 3)
  const slots = Array.from({ length: 7 }, () => queue.reserve('c'))
  // Filled last to first: the head's fill finds all seven ready.
  await Promise.all(slots.map((s, i) => [i, s] as const).reverse().map(([i, s]) => s.fill(`d${i}`)))
  t.same(batches.map((b) => b.drafts), [['d0', 'd1', 'd2'], ['d3', 'd4', 'd5'], ['d6']])
  t.equal(await queue.reserve('c').fill('alone'), 'c:alone', 'a fill with nothing in flight is committed at once, alone')
  t.same(batches.at(-1)?.drafts, ['alone'])
})
