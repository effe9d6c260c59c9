import t from 'tap'
import { createMemoryStore } from '../../src/store/memory/index.js'
import { storeContract } from './contract.js'

storeContract(t, async () => createMemoryStore())
