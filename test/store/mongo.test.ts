import t from 'tap'
import { createMongoStore } from '../../src/store/mongo/index.js'
import { storeContract } from './contract.js'
import { markSuiteRan, mongoTestUrl, testMongoOptions } from '../services.js'

markSuiteRan(t, 'store-mongo')
storeContract(t, async (t) => {
  const url = mongoTestUrl(t)
  return url === undefined ? undefined : createMongoStore(testMongoOptions(url))
})

t.test('an unreachable server makes operations fail as unavailable, not hang', async (t) => {
  const store = createMongoStore({ url: 'mongodb://127.0.0.1:9/', dbName: 'x', poolSize: 1, serverSelectionTimeoutMs: 300 })
  t.teardown(() => store.close())
  await t.rejects(store.ping(), { name: 'DependencyUnavailableError', dependency: 'store' })
  await t.rejects(store.users.findByLogin('x'), { name: 'DependencyUnavailableError' })
  const message = { id: '665f1c2ab4d5e6f7a8b9c0d1', conversationId: 'c', seq: 1, senderId: 's', content: 'x', contentType: 'text' as const, attachments: [], clientMessageId: 'm', version: 1, sentAt: new Date() }
  await t.rejects(store.messages.insertMany([message]), { name: 'DependencyUnavailableError' }, 'a batch insert too (the driver\'s bulk API would have wrapped it)')
})
