/**
 * The broker contract: every adapter runs these same tests. `makeNodes`
 * returns two brokers that act as two server nodes sharing one bus.
 */
import type { Test } from 'tap'
import type { Broker, BrokerMessage } from '../../src/broker/port.js'
import { onTwoNodes, type MakeNodes } from '../contract-nodes.js'

/** Collects what a broker's handlers receive. */
function recorder (broker: Broker) {
  const got: BrokerMessage[] = []
  broker.onMessage((m) => got.push(m))
  return got
}

/** A broker subscribed to `channel`, and the payloads it receives from then on; closed when the test ends. */
export async function listeningOn (t: Test, broker: Broker, channel: string): Promise<unknown[]> {
  t.teardown(() => broker.close())
  const got: unknown[] = []
  broker.onMessage((m) => got.push(m.payload))
  await broker.subscribe(channel)
  return got
}

/** Gives the wire time to deliver, then checks nothing more arrives than expected. */
const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms))

async function until (check: () => boolean, ms = 3000) {
  const deadline = Date.now() + ms
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
}

export function brokerContract (t: Test, makeNodes: MakeNodes<Broker>): void {
  const withNodes = onTwoNodes(t, makeNodes, (node) => node.close())

  withNodes('nodes have distinct ids and answer ping', async (t, a, b) => {
    t.not(a.nodeId, b.nodeId)
    await t.resolves(a.ping())
    await t.resolves(b.ping())
  })

  withNodes('a publication reaches the other node once, with its origin', async (t, a, b) => {
    const gotB = recorder(b)
    await b.subscribe('conversation:1')
    await a.publish('conversation:1', { type: 'new_message', n: 1 })
    await until(() => gotB.length > 0)
    await settle()
    t.same(gotB, [{ channel: 'conversation:1', payload: { type: 'new_message', n: 1 }, origin: a.nodeId }])
  })

  withNodes('a node receives its own publication exactly once', async (t, a, b) => {
    const gotA = recorder(a)
    const gotB = recorder(b)
    await a.subscribe('c')
    await b.subscribe('c')
    await a.publish('c', { n: 1 })
    await until(() => gotB.length > 0)
    await settle()
    t.equal(gotA.length, 1, 'delivered once locally, not echoed back from the wire')
    t.equal(gotA[0]?.origin, a.nodeId)
    t.equal(gotB.length, 1)
  })

  withNodes('only subscribed channels are delivered; unsubscribe stops delivery', async (t, a, b) => {
    const gotB = recorder(b)
    await b.subscribe('yes')
    await a.publish('no', { n: 0 })
    await a.publish('yes', { n: 1 })
    await until(() => gotB.length > 0)
    await b.unsubscribe('yes')
    await a.publish('yes', { n: 2 })
    await settle()
    t.same(gotB.map((m) => m.payload), [{ n: 1 }])
  })

  withNodes('order is kept per channel', async (t, a, b) => {
    const gotB = recorder(b)
    await b.subscribe('ordered')
    for (let n = 0; n < 100; n++) await a.publish('ordered', { n })
    await until(() => gotB.length >= 100)
    t.same(gotB.map((m) => (m.payload as { n: number }).n), Array.from({ length: 100 }, (_, n) => n))
  })

  withNodes('subscribing twice delivers once; a removed handler gets nothing', async (t, a, b) => {
    const gotB = recorder(b)
    const extra: BrokerMessage[] = []
    const remove = b.onMessage((m) => extra.push(m))
    remove()
    await b.subscribe('twice')
    await b.subscribe('twice')
    await a.publish('twice', { n: 1 })
    await until(() => gotB.length > 0)
    await settle()
    t.equal(gotB.length, 1)
    t.equal(extra.length, 0)
  })

  withNodes('payloads arrive as copies', async (t, a, _b) => {
    const gotA = recorder(a)
    await a.subscribe('copy')
    const payload = { nested: { v: 1 } }
    await a.publish('copy', payload)
    payload.nested.v = 2
    t.same(gotA[0]?.payload, { nested: { v: 1 } })
  })
}
