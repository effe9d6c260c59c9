/**
 * The limits contract: every adapter runs these same tests. `makeNodes`
 * returns two Limits that act as two server nodes of one deployment.
 */
import type { Test } from 'tap'
import { onTwoNodes, type MakeNodes } from '../contract-nodes.js'
import type { Limits } from '../../src/limits/port.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function limitsContract (t: Test, makeNodes: MakeNodes<Limits>): void {
  const withNodes = onTwoNodes(t, makeNodes)

  withNodes('one fixed window per key, shared by the nodes', async (t, a, b) => {
    const setting = { max: 3, windowMs: 1000 }
    const [la, lb] = [a.limiter('l', setting), b.limiter('l', setting)]
    t.same(la.setting, setting)
    const got = [await la.consume('k'), await lb.consume('k'), await la.consume('k'), await lb.consume('k')]
    t.same(got.map((d) => d.allowed), [true, true, true, false], 'the fourth hit on either node is refused')
    t.same(got.map((d) => d.hits), [1, 2, 3, 4], 'each hit counted once, on either node')
    const refused = got[3]!
    t.ok(refused.retryInMs > 0 && refused.retryInMs <= 1000, `retry in ${refused.retryInMs} ms`)
    t.equal((await la.consume('other')).allowed, true, 'another key has its own window')
    await sleep(refused.retryInMs + 100)
    t.equal((await lb.consume('k')).allowed, true, 'a new window once it ends')
  })

  withNodes('limiters of other names count apart; asking twice answers the same limiter', async (t, a) => {
    const one = a.limiter('one', { max: 1, windowMs: 60_000 })
    const two = a.limiter('two', { max: 1, windowMs: 60_000 })
    t.equal(a.limiter('one', { max: 1, windowMs: 60_000 }), one)
    t.equal((await one.consume('k')).allowed, true)
    t.equal((await one.consume('k')).allowed, false)
    t.equal((await two.consume('k')).allowed, true, 'the same key under another limit')
  })

  withNodes('a window shorter than a second counts as a second', async (t, a) => {
    const l = a.limiter('short', { max: 1, windowMs: 300 })
    t.equal((await l.consume('k')).allowed, true)
    const refused = await l.consume('k')
    t.equal(refused.allowed, false)
    t.ok(refused.retryInMs > 300, `still refused after 300 ms: retry in ${refused.retryInMs} ms`)
  })
}
