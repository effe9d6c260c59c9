import t from 'tap'
import { createMemoryLimits } from '../../src/limits/memory.js'
import { limitsContract } from './contract.js'

// Nodes in one process share one instance (as tests' memory deployments do).
limitsContract(t, async () => {
  const limits = createMemoryLimits()
  return [limits, limits]
})

t.test('instances of their own count apart', async (t) => {
  const [a, b] = [createMemoryLimits().limiter('l', { max: 1, windowMs: 60_000 }), createMemoryLimits().limiter('l', { max: 1, windowMs: 60_000 })]
  t.equal((await a.consume('k')).allowed, true)
  t.equal((await b.consume('k')).allowed, true)
})
