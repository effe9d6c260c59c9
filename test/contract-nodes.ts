/**
 * The shape every port's contract suite shares: each test on two nodes of one
 * deployment (two adapters over one backend), made afresh and closed after.
 */
import type { Test } from 'tap'

/** Two nodes, or undefined when their server is not provisioned (the test is then skipped, or failed in CI). */
export type MakeNodes<N> = (t: Test) => Promise<[N, N] | undefined>

export function onTwoNodes<N> (t: Test, makeNodes: MakeNodes<N>, close?: (node: N) => Promise<void>) {
  return (name: string, fn: (t: Test, a: N, b: N) => Promise<void>) =>
    t.test(name, async (t) => {
      const nodes = await makeNodes(t)
      if (nodes === undefined) return
      if (close !== undefined) t.teardown(async () => { await Promise.all(nodes.map(close)) })
      await fn(t, ...nodes)
    })
}

/** Two nodes made on two connections of one backend (a pair of Redis or Redis Cluster clients). */
export function nodesOn<C, N> (pair: { clients: [C, C], prefix: string } | undefined, make: (client: C, prefix: string) => N): [N, N] | undefined {
  return pair && [make(pair.clients[0], pair.prefix), make(pair.clients[1], pair.prefix)]
}
