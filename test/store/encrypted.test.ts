/** The store contract once more, through encryption at rest, over both adapters: with it the store behaves as without it. */
import t from 'tap'
import { createMemoryStore } from '../../src/store/memory/index.js'
import { createMongoStore } from '../../src/store/mongo/index.js'
import { encryptedStore } from '../../src/store/encrypted.js'
import { createKeyRing, parseKeyRing } from '../../src/domain/keyring.js'
import { storeContract } from './contract.js'
import { mongoTestUrl, testMongoOptions } from '../services.js'

const ring = createKeyRing(parseKeyRing(`k2:${Buffer.alloc(32, 7).toString('base64')},k1:${Buffer.alloc(32, 3).toString('base64')}`))
const failures: string[] = []
const onFailure = (_err: Error, where: { id: string }) => { failures.push(where.id) }

t.test('memory, encrypted', async (t) => {
  storeContract(t, async () => encryptedStore(createMemoryStore(), ring, onFailure))
})

t.test('mongo, encrypted', async (t) => {
  storeContract(t, async (t) => {
    const url = mongoTestUrl(t)
    return url === undefined ? undefined : encryptedStore(createMongoStore(testMongoOptions(url)), ring, onFailure)
  })
})

t.teardown(() => { if (failures.length > 0) throw new Error(`values that did not decrypt during the contract: ${failures.join(', ')}`) })
