import t from 'tap'
import { createMemoryPresence, type PresenceTable } from '../../src/presence/memory.js'
import { presenceContract } from './contract.js'

presenceContract(t, async () => {
  const table: PresenceTable = new Map()
  return [createMemoryPresence({ table }), createMemoryPresence({ table })]
})

t.test('a registry of its own is a single node', async (t) => {
  const a = createMemoryPresence()
  const b = createMemoryPresence()
  await a.connect('u', 'c', 10_000)
  t.same([...await b.online(['u'])], [])
})
