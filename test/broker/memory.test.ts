import t from 'tap'
import { createMemoryBroker, MemoryBus } from '../../src/broker/memory/index.js'
import { brokerContract } from './contract.js'

brokerContract(t, async () => {
  const bus = new MemoryBus()
  return [createMemoryBroker({ bus }), createMemoryBroker({ bus })]
})

t.test('a broker of its own is a single node', async (t) => {
  const a = createMemoryBroker()
  const b = createMemoryBroker()
  t.teardown(async () => { await a.close(); await b.close() })
  const got: unknown[] = []
  b.onMessage((m) => got.push(m))
  await b.subscribe('c')
  await a.publish('c', {})
  t.same(got, [])
  await a.close()
  await t.rejects(a.publish('c', {}), /closed/)
})
