/**
 * The revocations contract: every adapter runs these same tests. `makeNodes`
 * returns two Revocations that act as two server nodes of one deployment.
 */
import type { Test } from 'tap'
import { onTwoNodes, type MakeNodes } from '../contract-nodes.js'
import type { Revocations } from '../../src/revocations/port.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function revocationsContract (t: Test, makeNodes: MakeNodes<Revocations>): void {
  const withNodes = onTwoNodes(t, makeNodes)

  withNodes('a revocation on one node is seen by the other at once', async (t, a, b) => {
    t.equal(await b.isRevoked('s1'), false)
    await a.revoke('s1', 60_000)
    t.equal(await b.isRevoked('s1'), true)
    t.equal(await a.isRevoked('s1'), true)
    t.equal(await b.isRevoked('s2'), false, 'another session is not')
  })

  withNodes('a revocation is forgotten when its tokens would have expired', async (t, a, b) => {
    await a.revoke('short', 300)
    await a.revoke('long', 60_000)
    t.equal(await b.isRevoked('short'), true)
    await sleep(450)
    t.equal(await b.isRevoked('short'), false, 'gone after its ttl')
    t.equal(await b.isRevoked('long'), true, 'a longer one stays')
  })

  withNodes('revoking again keeps it for the new ttl', async (t, a, b) => {
    await a.revoke('again', 300)
    await b.revoke('again', 60_000)
    await sleep(450)
    t.equal(await a.isRevoked('again'), true)
  })
}
