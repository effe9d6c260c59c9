/**
 * The presence contract: every adapter runs these same tests. `makeNodes`
 * returns two registries that act as two server nodes' views of one deployment.
 */
import type { Test } from 'tap'
import { onTwoNodes, type MakeNodes } from '../contract-nodes.js'
import type { PresenceRegistry } from '../../src/presence/port.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function presenceContract (t: Test, makeNodes: MakeNodes<PresenceRegistry>): void {
  const withNodes = onTwoNodes(t, makeNodes)

  withNodes('shared between nodes, counted per connection', async (t, a, b) => {
    t.same(await a.connect('u1', 'c1', 10_000), { firstConnection: true })
    t.same(await b.connect('u1', 'c2', 10_000), { firstConnection: false })
    t.same([...await a.online(['u1', 'u2'])], ['u1'])
    t.same(await a.disconnect('u1', 'c1'), { lastConnection: false })
    t.same([...await b.online(['u1'])], ['u1'])
    t.same(await b.disconnect('u1', 'c2'), { lastConnection: true })
    t.same([...await a.online(['u1'])], [])
    t.same(await a.disconnect('u1', 'never'), { lastConnection: true }, 'unknown connections are harmless')
  })

  withNodes('a connection that is not refreshed expires', async (t, a, b) => {
    await a.connect('u1', 'dies', 200)
    await a.connect('u1', 'lives', 200)
    await a.refresh('u1', 'lives', 5_000)
    await sleep(350)
    t.same([...await b.online(['u1'])], ['u1'], 'the refreshed one keeps the user online')
    t.same(await b.disconnect('u1', 'lives'), { lastConnection: true }, 'the expired one does not count')
    await a.connect('u2', 'x', 150)
    await sleep(300)
    t.same([...await b.online(['u2'])], [])
    t.same(await b.connect('u2', 'y', 1000), { firstConnection: true }, 'after expiry the next connection is the first')
  })

  withNodes('a refresh of an unknown connection registers it', async (t, a, b) => {
    await a.refresh('u3', 'late', 5_000)
    t.same([...await b.online(['u3'])], ['u3'])
    t.same(await b.connect('u3', 'second', 5_000), { firstConnection: false })
  })
}
