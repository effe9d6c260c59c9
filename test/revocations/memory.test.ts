import t from 'tap'
import { createMemoryRevocations, type RevocationTable } from '../../src/revocations/memory.js'
import { revocationsContract } from './contract.js'

revocationsContract(t, async () => {
  const table: RevocationTable = new Map()
  return [createMemoryRevocations({ table }), createMemoryRevocations({ table })]
})

t.test('expired revocations are dropped from the table as new ones come', async (t) => {
  let now = 0
  const table: RevocationTable = new Map()
  const r = createMemoryRevocations({ table, now: () => now })
  for (let i = 0; i < 100; i++) await r.revoke(`s${i}`, 10)
  now = 20
  await r.revoke('last', 10)
  t.same([...table.keys()], ['last'])
})
