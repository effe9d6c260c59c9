/**
 * The shard-key audit's rule (src/store/mongo/shard-keys.ts), on commands as
 * the driver reports them. The run itself (scripts/test.mjs) applies it to
 * every command of every mongo store the suites open.
 */
import t from 'tap'
import { SCATTER_GATHER, shardKeyProblem } from '../../src/store/mongo/shard-keys.js'

t.test('queries and updates on messages and memberships must name the conversation', async (t) => {
  const ok = [
    ['find', { find: 'messages', filter: { conversationId: 'c', seq: { $gt: 3 } } }],
    ['find', { find: 'messages', filter: { conversationId: { $in: ['a', 'b'] }, words: { $all: ['x'] } } }],
    ['find', { find: 'memberships', filter: { $and: [{ conversationId: { $eq: 'c' } }, { userId: 'u' }] } }],
    ['update', { update: 'messages', updates: [{ q: { conversationId: 'c', _id: 'm' }, u: {} }] }],
    ['findAndModify', { findAndModify: 'messages', query: { conversationId: 'c', _id: 'm' } }],
    ['aggregate', { aggregate: 'messages', pipeline: [{ $match: { conversationId: 'c' } }, { $group: { _id: 1, n: { $sum: 1 } } }] }],
    ['insert', { insert: 'messages', documents: [{ conversationId: 'c', seq: 1 }] }],
    ['find', { find: 'memberships', filter: { userId: 'u' }, comment: SCATTER_GATHER.conversationsOfUser }],
    ['find', { find: 'users', filter: { _id: 'u' } }],
    ['getMore', { getMore: 1, collection: 'messages' }]
  ] as const
  for (const [name, command] of ok) t.equal(shardKeyProblem(name, command), undefined, `${name} ${JSON.stringify(command).slice(0, 80)}`)
  const bad = [
    ['find', { find: 'messages', filter: { _id: 'm' } }, /find on messages without conversationId: \{"_id":"m"\}/],
    ['find', { find: 'memberships', filter: { userId: 'u' } }, /find on memberships without conversationId/],
    ['find', { find: 'messages', filter: { conversationId: { $ne: 'c' } } }, /without conversationId/],
    ['update', { update: 'messages', updates: [{ q: { conversationId: 'c' }, u: {} }, { q: { _id: 'm' }, u: {} }] }, /update on messages/],
    ['delete', { delete: 'memberships', deletes: [{ q: { userId: 'u' } }] }, /delete on memberships/],
    ['findAndModify', { findAndModify: 'messages', query: { _id: 'm' } }, /findAndModify/],
    ['count', { count: 'messages', query: {} }, /count on messages/],
    ['aggregate', { aggregate: 'messages', pipeline: [{ $match: { senderId: 's' } }] }, /aggregate on messages/],
    ['insert', { insert: 'memberships', documents: [{ userId: 'u' }] }, /insert on memberships/],
    ['find', { find: 'messages', filter: {}, comment: 'just because' }, /find on messages/]
  ] as const
  for (const [name, command, problem] of bad) t.match(shardKeyProblem(name, command), problem, `${name}: ${JSON.stringify(command).slice(0, 80)}`)
})
