/**
 * The store contract: every adapter runs these same tests (STYLE.md rule 14).
 */
import type { Test } from 'tap'
import { DuplicateKeyError } from '../../src/domain/errors.js'
import { newId } from '../../src/store/ids.js'
import type { Store } from '../../src/store/port.js'
import type { ConversationRecord, MembershipRecord, MessageRecord, UploadRecord, VersionClaim } from '../../src/domain/types.js'

export function storeContract (t: Test, makeStore: (t: Test) => Promise<Store | undefined>): void {
  const withStore = (name: string, fn: (t: Test, store: Store) => Promise<void>) =>
    t.test(name, async (t) => {
      const store = await makeStore(t)
      if (store === undefined) return
      await store.init()
      // init twice: it must be idempotent (nodes re-run it after reconnecting).
      await store.init()
      t.teardown(() => store.close())
      await fn(t, store)
    })

  const user = (n: string) => ({ username: `User${n}`, email: `User${n}@Example.com`, passwordHash: 'scrypt$fake' })

  withStore('ping answers while the store is up', async (t, store) => {
    await t.resolves(store.ping())
  })

  withStore('users: create and find by id, login name and email, case-insensitively', async (t, store) => {
    const created = await store.users.create({ ...user('One'), displayName: 'One' })
    t.match(created.id, /^[0-9a-f]{24}$/)
    t.equal(created.usernameLower, 'userone')
    t.equal(created.emailLower, 'userone@example.com')
    t.equal(created.kind, 'user')
    t.ok(created.createdAt instanceof Date)

    t.same((await store.users.findById(created.id))?.username, 'UserOne')
    t.same((await store.users.findByLogin('userone'))?.id, created.id)
    t.same((await store.users.findByLogin('userone@example.com'))?.id, created.id)
    t.equal(await store.users.findByLogin('nobody'), null)
    t.equal(await store.users.findById(newId()), null)
    t.equal(await store.users.findById('not-an-id'), null)
  })

  withStore('users: username and email are unique without regard to case', async (t, store) => {
    await store.users.create(user('Dup'))
    await t.rejects(store.users.create({ ...user('x'), username: 'USERDUP' }), new DuplicateKeyError('username'))
    await t.rejects(store.users.create({ ...user('y'), email: 'userdup@EXAMPLE.com' }), new DuplicateKeyError('email'))
    const again = await store.users.searchByUsernamePrefix('userdup', 10)
    t.equal(again.length, 1, 'the refused writes left nothing behind')
  })

  withStore('users: concurrent registrations of one name create one user', async (t, store) => {
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => store.users.create({ ...user('Race'), email: `race${i}@example.com` }))
    )
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    for (const r of results) if (r.status === 'rejected') t.type(r.reason, DuplicateKeyError)
  })

  withStore('users: prefix search is case-insensitive, ordered, capped and regex-safe', async (t, store) => {
    for (const n of ['alice', 'Alina', 'albert', 'bob', 'al.x', 'alqx']) {
      await store.users.create({ username: n, email: `${n}@example.com`, passwordHash: 'h' })
    }
    const found = await store.users.searchByUsernamePrefix('al', 10)
    t.same(found.map((u) => u.username), ['al.x', 'albert', 'alice', 'Alina', 'alqx'])
    t.same((await store.users.searchByUsernamePrefix('al', 2)).map((u) => u.username), ['al.x', 'albert'])
    t.same((await store.users.searchByUsernamePrefix('al.', 10)).map((u) => u.username), ['al.x'], 'the dot is literal')
    t.same(await store.users.searchByUsernamePrefix('zz', 10), [])
  })

  withStore('users: findByIds ignores unknown and malformed ids', async (t, store) => {
    const a = await store.users.create(user('A'))
    const b = await store.users.create(user('B'))
    const found = await store.users.findByIds([a.id, newId(), 'junk', b.id])
    t.same(found.map((u) => u.id).sort(), [a.id, b.id].sort())
    t.same(await store.users.findByIds([]), [])
  })

  withStore('users: update sets and clears profile fields; lastSeen only moves forward', async (t, store) => {
    const u = await store.users.create(user('Upd'))
    const set = await store.users.update(u.id, { displayName: 'Shown', avatar: 'https://example.com/a.png' })
    t.equal(set?.displayName, 'Shown')
    t.equal(set?.avatar, 'https://example.com/a.png')
    const cleared = await store.users.update(u.id, { avatar: null })
    t.equal(cleared?.avatar, undefined)
    t.equal(cleared?.displayName, 'Shown')
    t.equal(await store.users.update(newId(), { displayName: 'x' }), null)

    const later = new Date(u.lastSeen.getTime() + 60_000)
    await store.users.touchLastSeen(u.id, later)
    await store.users.touchLastSeen(u.id, new Date(u.lastSeen.getTime() - 60_000))
    t.equal((await store.users.findById(u.id))?.lastSeen.getTime(), later.getTime())
  })

  withStore('users: returned records are copies', async (t, store) => {
    const u = await store.users.create(user('Copy'))
    u.username = 'mutated'
    t.equal((await store.users.findById(u.id))?.username, 'UserCopy')
  })

  const token = (over: Partial<{ id: string, familyId: string, parentId: string, tokenHash: string }> = {}) => {
    const id = over.id ?? newId()
    return {
      id,
      userId: newId(),
      familyId: over.familyId ?? id,
      parentId: over.parentId ?? `root:${id}`,
      tokenHash: over.tokenHash ?? `hash-${id}`,
      createdAt: new Date(),
      expiresAt: new Date(Date.now() + 3600_000)
    }
  }

  withStore('refresh tokens: insert, find by hash, rotate once', async (t, store) => {
    const root = token()
    await store.refreshTokens.insert(root)
    const found = await store.refreshTokens.findByHash(root.tokenHash)
    t.equal(found?.id, root.id)
    t.equal(found?.familyId, root.id)
    t.equal(found?.rotatedAt, undefined)
    t.equal(await store.refreshTokens.findByHash('nope'), null)

    t.equal(await store.refreshTokens.markRotated(root.id, new Date()), true)
    t.equal(await store.refreshTokens.markRotated(root.id, new Date()), false, 'a rotated token does not rotate again')
    t.ok((await store.refreshTokens.findByHash(root.tokenHash))?.rotatedAt instanceof Date)
  })

  withStore('refresh tokens: one child per parent, whatever the race', async (t, store) => {
    const root = token()
    await store.refreshTokens.insert(root)
    const children = Array.from({ length: 4 }, () => token({ familyId: root.id, parentId: root.id }))
    const results = await Promise.allSettled(children.map((c) => store.refreshTokens.insert(c)))
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    for (const r of results) if (r.status === 'rejected') t.same(r.reason, new DuplicateKeyError('parentId'))
  })

  withStore('refresh tokens: revoking a family revokes every member and no other family', async (t, store) => {
    const a = token()
    const a2 = token({ familyId: a.id, parentId: a.id })
    const b = token()
    for (const x of [a, a2, b]) await store.refreshTokens.insert(x)
    await store.refreshTokens.revokeFamily(a.id, new Date())
    t.ok((await store.refreshTokens.findByHash(a.tokenHash))?.revokedAt instanceof Date)
    t.ok((await store.refreshTokens.findByHash(a2.tokenHash))?.revokedAt instanceof Date)
    t.equal((await store.refreshTokens.findByHash(b.tokenHash))?.revokedAt, undefined)
    t.equal(await store.refreshTokens.markRotated(a2.id, new Date()), false, 'a revoked token cannot rotate')
    t.equal(await store.refreshTokens.isFamilyRevoked(a.id), true, 'the family itself is revoked')
    t.equal(await store.refreshTokens.isFamilyRevoked(b.id), false)
    await t.resolves(store.refreshTokens.revokeFamily(a.id, new Date()), 'revoking twice is harmless')
    const late = token({ familyId: a.id, parentId: a2.id })
    await store.refreshTokens.insert(late)
    t.equal(await store.refreshTokens.isFamilyRevoked(late.familyId), true, 'a token issued into it afterwards belongs to a revoked family')
  })

  const conversation = (over: Partial<ConversationRecord> = {}): ConversationRecord => {
    const id = over.id ?? newId()
    const at = over.updatedAt ?? new Date()
    return { id, type: 'group', name: 'g', participantIds: [], createdBy: newId(), directKey: `group:${id}`, lastSeq: 0, version: 0, createdAt: at, updatedAt: at, ...over }
  }

  withStore('conversations: a direct key exists once, even when created concurrently', async (t, store) => {
    const key = `${newId()}:${newId()}`
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => store.conversations.insert(conversation({ type: 'direct', directKey: key }))))
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    for (const r of results) if (r.status === 'rejected') t.same(r.reason, new DuplicateKeyError('directKey'))
    t.equal((await store.conversations.findByDirectKey(key))?.directKey, key)
    t.equal(await store.conversations.findByDirectKey('none'), null)
  })

  withStore('conversations: groups counted by their creator', async (t, store) => {
    const me = newId()
    await store.conversations.insert(conversation({ createdBy: me }))
    await store.conversations.insert(conversation({ createdBy: me }))
    await store.conversations.insert(conversation({ createdBy: me, type: 'direct', directKey: `${me}:${newId()}` }))
    await store.conversations.insert(conversation())
    t.equal(await store.conversations.countGroupsCreatedBy(me), 2, 'groups only, mine only')
  })

  withStore('conversations: listed by activity, newest first, paged by (updatedAt, id)', async (t, store) => {
    const me = newId()
    const base = Date.now()
    const made: ConversationRecord[] = []
    for (let i = 0; i < 7; i++) {
      // Two share each timestamp, so the id breaks ties.
      made.push(await store.conversations.insert(conversation({ participantIds: [me, newId()], updatedAt: new Date(base - Math.floor(i / 2) * 1000) })))
    }
    await store.conversations.insert(conversation({ participantIds: [newId()] }))
    const seen: string[] = []
    let after: { updatedAt: Date, id: string } | undefined
    for (;;) {
      const page = await store.conversations.listForUser(me, 3, after)
      seen.push(...page.map((c) => c.id))
      if (page.length < 3) break
      const last = page[page.length - 1]!
      after = { updatedAt: last.updatedAt, id: last.id }
    }
    const expected = [...made].sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime() || (a.id < b.id ? 1 : -1)).map((c) => c.id)
    t.same(seen, expected, 'each once, in order, none of another user')
  })

  withStore('conversations: lastMessage raises lastSeq and never moves back; replace only the same message', async (t, store) => {
    const c = await store.conversations.insert(conversation())
    t.equal(c.lastSeq, 0)
    await store.conversations.setLastMessage(c.id, { id: newId(), seq: 1, content: 'first', senderId: newId(), sentAt: new Date() }, new Date())
    t.equal((await store.conversations.findById(c.id))?.lastSeq, 1, 'lastSeq follows the last message')
    await store.conversations.setLastMessage(newId(), { id: newId(), seq: 1, content: 'nowhere', senderId: newId(), sentAt: new Date() }, new Date())
    const later = new Date(Date.now() + 5000)
    const m2 = { id: newId(), seq: 2, content: 'two', senderId: newId(), sentAt: later }
    await store.conversations.setLastMessage(c.id, m2, later)
    await store.conversations.setLastMessage(c.id, { ...m2, id: newId(), seq: 1, content: 'one' }, new Date())
    let now = await store.conversations.findById(c.id)
    t.equal(now?.lastMessage?.content, 'two')
    t.equal(now?.lastSeq, 2, 'an older message moves neither back')
    t.equal(now?.updatedAt.getTime(), later.getTime())
    await store.conversations.replaceLastMessage(c.id, { ...m2, id: newId(), content: 'other' }, new Date())
    await store.conversations.replaceLastMessage(c.id, { ...m2, content: '' }, new Date())
    now = await store.conversations.findById(c.id)
    t.equal(now?.lastMessage?.content, '')
    t.equal(now?.lastMessage?.id, m2.id)
  })

  withStore('conversations: update and participants', async (t, store) => {
    const c = await store.conversations.insert(conversation({ avatar: 'https://a/x.png' }))
    const at = new Date(Date.now() + 1000)
    t.equal(c.version, 0)
    const renamed = await store.conversations.update(c.id, { name: 'renamed', avatar: null }, at, 3)
    t.equal(renamed?.name, 'renamed')
    t.equal(renamed?.avatar, undefined)
    t.equal(renamed?.version, 3)
    t.equal(renamed?.updatedAt.getTime(), at.getTime())
    const ids = [newId(), newId()]
    t.same((await store.conversations.setParticipants(c.id, ids, at, 5))?.participantIds, ids)
    const late = await store.conversations.update(c.id, { name: 'too late' }, at, 4)
    t.match(late, { name: 'renamed', version: 5 }, 'a change at an earlier version than the one there is not applied')
    t.same((await store.conversations.setParticipants(c.id, [], at, 5))?.participantIds, ids, 'nor at the same version')
    t.equal(await store.conversations.update(newId(), { name: 'x' }, at, 9), null)
    await store.conversations.raiseLastSeq(c.id, 7)
    await store.conversations.raiseLastSeq(c.id, 6)
    t.equal((await store.conversations.findById(c.id))?.lastSeq, 7, 'lastSeq is raised, never lowered')
  })

  const membership = (conversationId: string, userId: string, joinedAt = new Date()): MembershipRecord =>
    ({ conversationId, userId, role: 'member', joinedAt, deliveredSeq: 0, readSeq: 0 })

  withStore('memberships: add is idempotent, listed oldest first, removable', async (t, store) => {
    const c = newId()
    const [a, b, x] = [newId(), newId(), newId()]
    const t0 = Date.now()
    t.same(await store.memberships.addMany([membership(c, b, new Date(t0 + 10)), membership(c, a, new Date(t0))]), [b, a])
    t.same(await store.memberships.addMany([membership(c, a), membership(c, x, new Date(t0 + 20))]), [x], 'an existing member is not added twice')
    t.same((await store.memberships.listByConversation(c)).map((m) => m.userId), [a, b, x])
    t.same((await store.memberships.listForUser(a, [c, newId()])).map((m) => m.conversationId), [c])
    const c2 = newId()
    await store.memberships.addMany([membership(c2, a)])
    t.same((await store.memberships.conversationIdsOf(a)).sort(), [c, c2].sort())
    t.same(await store.memberships.conversationIdsOf(newId()), [])
    t.equal(await store.memberships.setRole(c, b, 'admin'), true)
    t.equal((await store.memberships.find(c, b))?.role, 'admin')
    t.equal(await store.memberships.remove(c, b), true)
    t.equal(await store.memberships.remove(c, b), false)
    t.equal(await store.memberships.find(c, b), null)
    t.equal(await store.memberships.setRole(c, b, 'admin'), false)
  })

  withStore('memberships: a conditional role change happens only from that role, once when raced, and again after a re-add', async (t, store) => {
    const c = newId()
    const o = newId()
    await store.memberships.addMany([{ ...membership(c, o), role: 'owner' }])
    t.equal(await store.memberships.setRole(c, o, 'admin', 'member'), false, 'not from another role')
    const raced = await Promise.all(Array.from({ length: 4 }, () => store.memberships.setRole(c, o, 'admin', 'owner')))
    t.equal(raced.filter(Boolean).length, 1, 'one of four racing changes from owner')
    t.equal((await store.memberships.find(c, o))?.role, 'admin')
    t.equal(await store.memberships.setRole(c, o, 'owner', 'admin'), true, 'and back')
    t.same(Object.keys((await store.memberships.find(c, o))!).sort(), Object.keys(membership(c, o)).sort(), 'the record has only its own fields')
    await store.memberships.remove(c, o)
    await store.memberships.addMany([{ ...membership(c, o, new Date(Date.now() + 5)), role: 'owner' }])
    t.equal(await store.memberships.setRole(c, o, 'admin', 'owner'), true, 'a re-added member changes role again')
  })

  withStore('memberships: watermarks only move forward; a read is also a delivery', async (t, store) => {
    const c = newId()
    const u = newId()
    await store.memberships.addMany([membership(c, u)])
    const at = new Date()
    await store.memberships.advance(c, u, 'delivered', 5, at)
    await store.memberships.advance(c, u, 'delivered', 3, new Date())
    let m = await store.memberships.find(c, u)
    t.equal(m?.deliveredSeq, 5)
    t.equal(m?.deliveredAt?.getTime(), at.getTime(), 'the time moves only with the mark')
    t.equal(m?.readSeq, 0)
    await store.memberships.advance(c, u, 'read', 7, at)
    await store.memberships.advance(c, u, 'read', 6, new Date())
    m = await store.memberships.find(c, u)
    t.equal(m?.readSeq, 7)
    t.equal(m?.deliveredSeq, 7)
    await store.memberships.advance(c, newId(), 'read', 1, at)
  })

  const message = (conversationId: string, seq: number, over: Partial<MessageRecord> = {}): MessageRecord => ({
    id: newId(), conversationId, seq, version: seq, senderId: 'sender', content: `m${seq}`, contentType: 'text', attachments: [], clientMessageId: `c${seq}`, sentAt: new Date(), ...over
  })
  const claim = (conversationId: string, seq: number, target: string): VersionClaim => ({ id: newId(), conversationId, seq, target, claimedAt: new Date() })

  withStore('messages: search by every word of one of the word sets and by operators, newest first, from a cursor, never a deleted one', async (t, store) => {
    const [c1, c2, other] = [newId(), newId(), newId()]
    const at = (s: number) => new Date(Date.UTC(2026, 10, 1, 0, 0, s))
    const ana = newId()
    const ms = [
      message(c1, 1, { content: 'red fox', words: ['red', 'fox'], sentAt: at(1), senderId: ana }),
      message(c1, 2, { content: 'red hen', words: ['red', 'hen'], sentAt: at(2), attachments: [{ url: 'https://x.test/a.png', type: 'image/png' }] }),
      message(c2, 1, { content: 'red fox again', words: ['red', 'fox', 'again'], sentAt: at(3), senderId: ana }),
      message(other, 1, { content: 'red fox elsewhere', words: ['red', 'fox', 'elsewhere'], sentAt: at(4) }),
      message(c2, 2, { content: 'gone red fox', words: ['gone', 'red', 'fox'], sentAt: at(5) })
    ]
    for (const m of ms) await store.messages.insertMany([m])
    await store.messages.tombstone(ms[4]!, at(6), 10)
    const q = { conversationIds: [c1, c2], wordSets: [] as string[][], hasAttachment: false, limit: 10 }
    const contents = (list: MessageRecord[]) => list.map((m) => m.content)
    t.same(contents(await store.messages.search({ ...q, wordSets: [['fox', 'red']] })), ['red fox again', 'red fox'], 'every word, newest first, these conversations only, not the deleted one')
    t.same(contents(await store.messages.search({ ...q, wordSets: [['hen'], ['again']] })), ['red fox again', 'red hen'], 'any one of the sets')
    t.same(contents(await store.messages.search({ ...q, senderId: ana })), ['red fox again', 'red fox'], 'by sender alone')
    t.same(contents(await store.messages.search({ ...q, hasAttachment: true })), ['red hen'])
    t.same(contents(await store.messages.search({ ...q, before: at(3), from: at(2) })), ['red hen'], 'from inclusive, before exclusive')
    const first = await store.messages.search({ ...q, wordSets: [['red']], limit: 1 })
    t.same(contents(first), ['red fox again'])
    t.same(contents(await store.messages.search({ ...q, wordSets: [['red']], after: { sentAt: first[0]!.sentAt, id: first[0]!.id } })), ['red hen', 'red fox'], 'after the cursor')
    t.same(await store.messages.search({ ...q, conversationIds: [] }), [])
  })

  withStore('messages: those stored without search words are found once, get their words, and an edit or a deletion meanwhile wins', async (t, store) => {
    const c = newId()
    const legacy = message(c, 1, { content: 'old text' })
    const empty = message(c, 2, { content: '', words: [] })
    const gone = message(c, 3, { content: 'gone' })
    const edited = message(c, 4, { content: 'before' })
    await store.messages.insertMany([legacy, empty, gone, edited])
    await store.messages.tombstone(gone, new Date(), 10)
    t.same((await store.messages.unindexed(10)).map((m) => m.id).sort(), [legacy.id, edited.id].sort(), 'no words at all, not deleted (an empty list is words)')
    t.equal((await store.messages.unindexed(1)).length, 1, 'at most the limit')
    await store.messages.edit(edited, 'after', new Date(), 11, undefined, ['after'])
    await store.messages.setWords(edited, ['before'])
    await store.messages.setWords(legacy, ['old', 'text'])
    await store.messages.setWords(gone, ['gone'])
    t.same(await store.messages.unindexed(10), [])
    const q = { conversationIds: [c], hasAttachment: false, limit: 10 }
    t.same((await store.messages.search({ ...q, wordSets: [['old']] })).map((m) => m.id), [legacy.id], 'backfilled: found')
    t.same((await store.messages.search({ ...q, wordSets: [['before']] })), [], 'the edit\'s words won over the backfill\'s')
    t.same((await store.messages.search({ ...q, wordSets: [['after']] })).map((m) => m.id), [edited.id])
    t.same((await store.messages.search({ ...q, wordSets: [['gone']] })), [], 'a deleted one gets none')
  })

  withStore('messages: version claims share the seq index, are read only by claimsSince, and nothing else sees them', async (t, store) => {
    const c = newId()
    const m = message(c, 1)
    t.same(await store.messages.insertMany([m, claim(c, 2, m.id), message(c, 3), claim(c, 4, 'conversation')]), { inserted: 4 })
    t.same(await store.messages.insertMany([message(c, 2, { clientMessageId: 'x' })]), { inserted: 0, duplicate: new DuplicateKeyError('seq') }, 'a claimed seq is taken')
    t.same(await store.messages.insertMany([claim(c, 3, m.id)]), { inserted: 0, duplicate: new DuplicateKeyError('seq') }, 'and a claim cannot take a message\'s')
    t.same((await store.messages.page(c, { limit: 10 })).items.map((x) => x.seq), [1, 3], 'history holds messages only')
    t.equal(await store.messages.countUnread(c, 0, 'me', 100), 2, 'claims are never unread')
    t.same((await store.messages.claimsSince(c, 1, 10)).map((x) => [x.seq, x.target]), [[2, m.id], [4, 'conversation']])
    t.same((await store.messages.claimsSince(c, 2, 1)).map((x) => x.seq), [4], 'after a seq, at most limit')
    const [first] = await store.messages.claimsSince(c, 0, 1)
    t.equal(await store.messages.findById(first!), null, 'a claim is not a message')
    t.same((await store.messages.changedSince(c, 0, 10)).items.map((x) => x.seq), [1, 3], 'nor a change')
    t.equal(await store.messages.lastSeq(c), 4, 'the highest seq taken counts claims')
    t.equal(await store.messages.lastSeq(newId()), 0)
  })

  withStore('messages: changedSince answers each message once, by version, in its state now', async (t, store) => {
    const c = newId()
    const [m1, m2, m3] = [message(c, 1), message(c, 2), message(c, 3)]
    await store.messages.insertMany([m1, m2, m3, claim(c, 4, m1.id), claim(c, 5, m2.id), claim(c, 6, m1.id)])
    await store.messages.edit(m1, 'first edit', new Date(), 4)
    await store.messages.tombstone(m2, new Date(), 5)
    await store.messages.edit(m1, 'second edit', new Date(), 6)
    const all = await store.messages.changedSince(c, 0, 10)
    t.same(all.items.map((x) => [x.id, x.version]), [[m3.id, 3], [m2.id, 5], [m1.id, 6]], 'by version, each once')
    t.equal(all.items[2]!.content, 'second edit')
    t.ok(all.items[1]!.deletedAt instanceof Date)
    t.equal(all.hasMore, false)
    const after3 = await store.messages.changedSince(c, 3, 1)
    t.same(after3.items.map((x) => x.version), [5])
    t.equal(after3.hasMore, true)
    t.same((await store.messages.changedSince(c, 6, 10)).items, [], 'nothing after the last version')
    t.equal((await store.messages.edit(m1, 'stale', new Date(), 4))?.content, 'second edit', 'an edit at an earlier version than the one there is not applied')
    t.equal((await store.messages.findById(m1))?.version, 6)
  })

  withStore('messages: seq and clientMessageId are unique per conversation', async (t, store) => {
    const c = newId()
    const insert = async (m: MessageRecord) => (await store.messages.insertMany([m])).duplicate
    t.equal(await insert(message(c, 1)), undefined)
    t.same(await insert(message(c, 1, { clientMessageId: 'other' })), new DuplicateKeyError('seq'))
    t.same(await insert(message(c, 2, { clientMessageId: 'c1' })), new DuplicateKeyError('clientMessageId'))
    t.equal(await insert(message(c, 2, { clientMessageId: 'c1', senderId: 'someone-else' })), undefined)
    t.equal(await insert(message(newId(), 1)), undefined)
    t.equal((await store.messages.findByClientMessageId(c, 'sender', 'c1'))?.seq, 1)
    t.equal(await store.messages.findByClientMessageId(c, 'nobody', 'c1'), null)
    t.equal((await store.messages.page(c, { limit: 10 })).items.length, 2, 'nothing half-written')
  })

  withStore('messages: insertMany inserts in order and stops at the first refused message, saying which index', async (t, store) => {
    const c = newId()
    t.same(await store.messages.insertMany([]), { inserted: 0 })
    t.same(await store.messages.insertMany([message(c, 1), message(c, 2), message(c, 3)]), { inserted: 3 })
    t.same(await store.messages.insertMany([message(c, 4), message(c, 2, { clientMessageId: 'x' }), message(c, 5)]),
      { inserted: 1, duplicate: new DuplicateKeyError('seq') }, 'a taken seq stops the batch there')
    t.same(await store.messages.insertMany([message(c, 6, { clientMessageId: 'c1' }), message(c, 7)]),
      { inserted: 0, duplicate: new DuplicateKeyError('clientMessageId') }, 'a clientMessageId seen before')
    const seqs = (await store.messages.page(c, { limit: 10 })).items.map((m) => m.seq)
    t.same(seqs, [1, 2, 3, 4], 'nothing after the refused message, nothing half-written')
    t.equal((await store.messages.findByClientMessageId(c, 'sender', 'c4'))?.seq, 4)
    t.same(await store.messages.insertMany([message(c, 5), message(c, 6)]), { inserted: 2 }, 'the rest, with their seqs, go in afterwards')
  })

  withStore('messages: pages back and forward return each seq once, in order', async (t, store) => {
    const c = newId()
    await store.messages.insertMany(Array.from({ length: 25 }, (_, i) => i + 1).filter((seq) => seq !== 13).map((seq) => message(c, seq)))
    const seqs = (p: { items: MessageRecord[] }) => p.items.map((m) => m.seq)
    const newest = await store.messages.page(c, { limit: 10 })
    t.same(seqs(newest), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25])
    t.equal(newest.hasMore, true)
    const back = await store.messages.page(c, { limit: 10, beforeSeq: 16 })
    t.same(seqs(back), [5, 6, 7, 8, 9, 10, 11, 12, 14, 15], 'the gap is skipped')
    const first = await store.messages.page(c, { limit: 10, beforeSeq: 5 })
    t.same(seqs(first), [1, 2, 3, 4])
    t.equal(first.hasMore, false)
    const fwd = await store.messages.page(c, { limit: 10, afterSeq: 20 })
    t.same(seqs(fwd), [21, 22, 23, 24, 25])
    t.equal(fwd.hasMore, false)
    const range = await store.messages.page(c, { limit: 3, afterSeq: 10, beforeSeq: 20 })
    t.same(seqs(range), [11, 12, 14])
    t.equal(range.hasMore, true)
    t.same(await store.messages.page(newId(), { limit: 5 }), { items: [], hasMore: false })
  })

  withStore('messages: edit, tombstone (edits of a deleted message are refused), unread count', async (t, store) => {
    const c = newId()
    const m = message(c, 1, { attachments: [{ url: 'https://x/y.png', type: 'image/png' }], contentType: 'image' })
    await store.messages.insertMany([m, message(c, 2, { senderId: 'me' }), message(c, 3)])
    t.equal(await store.messages.countUnread(c, 0, 'me', 100), 2)
    t.equal(await store.messages.countUnread(c, 1, 'me', 100), 1)
    t.equal(await store.messages.countUnread(c, 0, 'me', 1), 1, 'capped')
    const edited = await store.messages.edit(m, 'new', new Date(), 4)
    t.equal(edited?.content, 'new')
    t.equal(edited?.version, 4)
    t.ok(edited?.editedAt instanceof Date)
    const gone = await store.messages.tombstone(m, new Date(), 5)
    t.match(gone, { content: '', attachments: [], seq: 1, version: 5 })
    t.ok(gone?.deletedAt instanceof Date)
    const again = await store.messages.tombstone(m, new Date(Date.now() + 1000), 6)
    t.equal(again?.deletedAt?.getTime(), gone?.deletedAt?.getTime(), 'deleted once')
    t.equal(again?.version, 5)
    t.equal((await store.messages.edit(m, 'revived', new Date(), 7))?.content, '', 'a tombstone stays empty')
    t.equal(await store.messages.countUnread(c, 0, 'me', 100), 1, 'deleted messages are not unread')
    t.equal(await store.messages.edit({ conversationId: c, id: newId() }, 'x', new Date(), 8), null)
    t.equal(await store.messages.findById({ conversationId: newId(), id: m.id }), null, 'a message is not found under another conversation')
    t.equal(await store.messages.edit({ conversationId: newId(), id: m.id }, 'x', new Date(), 8), null, 'nor edited there')
  })

  withStore('reactions: one per user and emoji, even when added concurrently; listed oldest first; removed once', async (t, store) => {
    const c = newId()
    const [m1, m2, u1, u2] = [newId(), newId(), newId(), newId()]
    const r = (messageId: string, userId: string, emoji: string, at: number) => ({ conversationId: c, messageId, userId, emoji, createdAt: new Date(at) })
    const raced = await Promise.all(Array.from({ length: 5 }, () => store.reactions.add(r(m1, u1, '👍', 1000))))
    t.equal(raced.filter(Boolean).length, 1, 'one of five identical adds is new')
    t.equal(await store.reactions.add(r(m1, u2, '👍', 2000)), true)
    t.equal(await store.reactions.add(r(m1, u1, ':tada:', 3000)), true)
    t.equal(await store.reactions.add(r(m2, u1, '👍', 500)), true)
    const all = await Promise.all(Array.from({ length: 40 }, (_, i) => store.reactions.add(r(m2, newId(), '❤️', 4000 + i))))
    t.equal(all.filter(Boolean).length, 40, 'forty users at once: forty records')
    t.same((await store.reactions.forMessages([m1])).map((x) => [x.userId, x.emoji]), [[u1, '👍'], [u2, '👍'], [u1, ':tada:']])
    t.same(await store.reactions.forMessages([m1, m2]).then((xs) => xs.length), 44)
    t.same(await store.reactions.forMessages([]), [])
    t.equal(await store.reactions.remove(m1, u1, '👍'), true)
    t.equal(await store.reactions.remove(m1, u1, '👍'), false)
    t.same((await store.reactions.forMessages([m1])).map((x) => x.emoji), ['👍', ':tada:'])
    t.same(Object.keys((await store.reactions.forMessages([m1]))[0]!).sort(), ['conversationId', 'createdAt', 'emoji', 'messageId', 'userId'])
  })

  withStore('messages: pinned and unpinned at a version; listed newest pin first; a tombstone unpins', async (t, store) => {
    const c = newId()
    const [m1, m2, m3] = [message(c, 1), message(c, 2), message(c, 3)]
    await store.messages.insertMany([m1, m2, m3])
    const by = newId()
    t.match(await store.messages.setPin(m1, { by, at: new Date(1000) }, 4), { pinnedBy: by, version: 4 })
    await store.messages.setPin(m3, { by, at: new Date(2000) }, 5)
    t.same((await store.messages.pinned(c, 10)).map((m) => m.id), [m3.id, m1.id])
    t.same((await store.messages.pinned(c, 1)).map((m) => m.id), [m3.id], 'bounded')
    t.equal((await store.messages.setPin(m1, null, 4))?.pinnedAt instanceof Date, true, 'not at an old version')
    const unpinned = await store.messages.setPin(m1, null, 6)
    t.equal(unpinned?.pinnedAt, undefined)
    t.equal(unpinned?.pinnedBy, undefined)
    await store.messages.tombstone(m3, new Date(), 7)
    t.same(await store.messages.pinned(c, 10), [], 'the deleted one is unpinned')
    t.equal((await store.messages.setPin(m3, { by, at: new Date() }, 8))?.pinnedAt, undefined, 'a tombstone is never pinned')
    t.same(await store.messages.pinned(newId(), 10), [])
  })

  withStore('messages: a quote is kept with the message and its excerpt set for every quote of the original', async (t, store) => {
    const c = newId()
    const original = message(c, 1)
    const quote = { id: original.id, seq: 1, senderId: original.senderId, content: 'before' }
    const [r1, r2, other] = [message(c, 2, { replyTo: quote }), message(c, 3, { replyTo: { ...quote } }), message(c, 4)]
    await store.messages.insertMany([original, r1, r2, other])
    t.same((await store.messages.findById(r1))?.replyTo, quote)
    await store.messages.updateQuotes(c, original.id, 'after')
    t.same([(await store.messages.findById(r1))?.replyTo?.content, (await store.messages.findById(r2))?.replyTo?.content], ['after', 'after'])
    t.equal((await store.messages.findById(other))?.replyTo, undefined, 'a message that quotes nothing is untouched')
    t.equal((await store.messages.findById(r1))?.version, r1.version, 'the quoting messages keep their versions')
  })

  withStore('messages: unread mentions counted after a seq, mine or all, not my own, not deleted; an edit sets them anew', async (t, store) => {
    const c = newId()
    const [me, other] = [newId(), newId()]
    const ms = [
      message(c, 1, { senderId: other, mentions: [me] }),
      message(c, 2, { senderId: other, mentionsAll: true }),
      message(c, 3, { senderId: other, mentions: [newId()] }),
      message(c, 4, { senderId: me, mentions: [me], mentionsAll: true }),
      message(c, 5, { senderId: other, mentions: [me] })
    ]
    await store.messages.insertMany(ms)
    t.equal(await store.messages.countUnreadMentions(c, 0, me, 100), 3)
    t.equal(await store.messages.countUnreadMentions(c, 1, me, 100), 2, 'after a seq')
    t.equal(await store.messages.countUnreadMentions(c, 0, me, 2), 2, 'capped')
    await store.messages.tombstone(ms[4]!, new Date(), 6)
    t.equal(await store.messages.countUnreadMentions(c, 0, me, 100), 2, 'a deleted one stops counting')
    const edited = await store.messages.edit(ms[0]!, 'no mention', new Date(), 7)
    t.equal(edited?.mentions, undefined, 'an edit without mentions clears them')
    t.equal(await store.messages.countUnreadMentions(c, 0, me, 100), 1)
    t.same((await store.messages.edit(ms[2]!, 'now me', new Date(), 8, { ids: [me], all: false }))?.mentions, [me])
    t.equal(await store.messages.countUnreadMentions(c, 0, me, 100), 2)
  })

  withStore('messages: a thread pages by itself and sums up its live replies; the root takes its summary at a version', async (t, store) => {
    const c = newId()
    const root = message(c, 1)
    const [u1, u2] = [newId(), newId()]
    const replies = [message(c, 2, { threadId: root.id, senderId: u2 }), message(c, 4, { threadId: root.id, senderId: u1 }), message(c, 5, { threadId: root.id, senderId: u2 })]
    await store.messages.insertMany([root, replies[0]!, message(c, 3), replies[1]!, replies[2]!])
    t.same((await store.messages.page(c, { limit: 10, threadId: root.id })).items.map((m) => m.seq), [1, 2, 4, 5], 'the root and its replies')
    t.same(await store.messages.page(c, { limit: 2, threadId: root.id }).then((p) => [p.items.map((m) => m.seq), p.hasMore]), [[4, 5], true])
    t.same((await store.messages.page(c, { limit: 10, threadId: root.id, beforeSeq: 4 })).items.map((m) => m.seq), [1, 2])
    t.same((await store.messages.page(c, { limit: 10, threadId: 'nope' })).items, [])
    await store.messages.tombstone(replies[2]!, new Date(), 6)
    const summary = await store.messages.threadSummary(c, root.id)
    t.same(summary, { replyCount: 2, lastReplyAt: replies[1]!.sentAt, lastReplySeq: 4, participantIds: [u1, u2].sort() }, 'deleted replies left out')
    t.same(await store.messages.threadSummary(c, newId()), { replyCount: 0, participantIds: [] })
    t.same((await store.messages.setThread(root, summary, 7))?.thread, summary)
    t.equal((await store.messages.setThread(root, { replyCount: 9, participantIds: [] }, 6))?.thread?.replyCount, 2, 'not at an older version')
    t.same((await store.messages.findById(root))?.thread, summary)
  })

  withStore('messages: touch moves a message to a later version only', async (t, store) => {
    const c = newId()
    const m = message(c, 1)
    await store.messages.insertMany([m])
    t.equal((await store.messages.touch(m, 5))?.version, 5)
    t.equal((await store.messages.touch(m, 3))?.version, 5, 'never back')
    t.same((await store.messages.changedSince(c, 4, 10)).items.map((x) => x.id), [m.id], 'found by its new version')
    t.equal(await store.messages.touch({ conversationId: c, id: newId() }, 9), null)
    t.equal(await store.messages.touch({ conversationId: newId(), id: m.id }, 9), null, 'nor under another conversation')
    t.equal((await store.messages.findById(m))?.version, 5, 'which left it as it was')
  })

  withStore('webhooks: insert, find, list by conversation, remove', async (t, store) => {
    const c = newId()
    const w = { id: newId(), conversationId: c, name: 'ci', tokenHash: 'h', botUserId: newId(), createdBy: newId(), createdAt: new Date() }
    await store.webhooks.insert(w)
    await store.webhooks.insert({ ...w, id: newId(), conversationId: newId() })
    t.same(await store.webhooks.findById(w.id), w)
    t.same((await store.webhooks.listByConversation(c)).map((x) => x.id), [w.id])
    t.equal(await store.webhooks.countCreatedBy(w.createdBy), 2, 'both, in either conversation')
    t.equal(await store.webhooks.countCreatedBy(newId()), 0)
    t.equal(await store.webhooks.remove(w.id), true)
    t.equal(await store.webhooks.remove(w.id), false)
    t.equal(await store.webhooks.findById(w.id), null)
  })

  const upload = (over: Partial<UploadRecord> = {}): UploadRecord => ({ id: newId(), conversationId: newId(), uploaderId: newId(), name: 'f.bin', type: 'application/octet-stream', size: 0, sha256: '', state: 'uploading', createdAt: new Date(), ...over })
  const bytesOf = async (source: AsyncIterable<Uint8Array>) => { const parts: Uint8Array[] = []; for await (const p of source) parts.push(p); return Buffer.concat(parts) }

  withStore('blobs: streamed in and read back whole or by range; a failed write leaves nothing; delete is idempotent', async (t, store) => {
    const bytes = Buffer.alloc(700_000)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 255
    async function * slices (fail = false) {
      for (let at = 0; at < bytes.length; at += 64 * 1024) {
        if (fail && at > 300_000) throw new Error('the client went away')
        yield bytes.subarray(at, at + 64 * 1024)
      }
    }
    const id = newId()
    t.equal(await store.blobs.write(id, slices()), bytes.length, 'its length')
    t.ok((await bytesOf(store.blobs.read(id))).equals(bytes), 'read back whole')
    t.ok((await bytesOf(store.blobs.read(id, { start: 260_000, end: 520_123 }))).equals(bytes.subarray(260_000, 520_124)), 'a range across chunks')
    t.ok((await bytesOf(store.blobs.read(id, { start: 0, end: 0 }))).equals(bytes.subarray(0, 1)), 'one byte')
    const failed = newId()
    await t.rejects(store.blobs.write(failed, slices(true)), /went away/)
    await t.rejects(bytesOf(store.blobs.read(failed)), 'nothing of a failed write is readable')
    await store.blobs.delete(id)
    await store.blobs.delete(id)
    await t.rejects(bytesOf(store.blobs.read(id)), 'gone once deleted')
    t.equal(await store.blobs.write(id, (async function * () {})()), 0, 'an empty file')
    t.equal((await bytesOf(store.blobs.read(id))).length, 0)
  })

  withStore('attachments: complete, claim once per send, settle, mark for deletion, usage, one sweep per window', async (t, store) => {
    const owner = newId()
    const a = upload({ uploaderId: owner })
    const b = upload({ uploaderId: owner })
    await store.attachments.insert(a)
    await store.attachments.insert(b)
    t.same(await store.attachments.claim([a.id], 'c1', new Date()), [], 'an upload still uploading is not claimed')
    t.equal(await store.attachments.complete(a.id, { type: 'image/png', size: 1000, sha256: 'ab', width: 10, height: 20, thumbnail: true }), true)
    t.equal(await store.attachments.complete(a.id, { type: 'image/png', size: 1000, sha256: 'ab' }), false, 'once')
    await store.attachments.complete(b.id, { type: 'text/plain', size: 500, sha256: 'cd' })
    t.match(await store.attachments.findById(a.id), { state: 'stored', size: 1000, width: 10, height: 20, thumbnail: true })
    t.equal((await store.attachments.findById(b.id))?.width, undefined)
    t.equal(await store.attachments.usage(owner), 1500)
    t.same(await store.attachments.claim([a.id], 'c1', new Date()), [a.id])
    t.same(await store.attachments.claim([a.id], 'c1', new Date()), [a.id], 'the same send again (a resend) holds it still')
    t.same(await store.attachments.claim([a.id, b.id], 'c2', new Date()), [b.id], 'another send gets only what is free')
    t.same((await store.attachments.findByIds([a.id, b.id, newId()])).map((r) => r.id).sort(), [a.id, b.id].sort())
    const old = new Date(Date.now() - 3600_000)
    const soon = new Date(Date.now() + 1000)
    t.same((await store.attachments.unsettled(soon, 10)).map((r) => r.id).sort(), [a.id, b.id].sort(), 'claimed, not settled')
    t.same(await store.attachments.unsettled(old, 10), [], 'claimed after the cutoff')
    const messageId = newId()
    await store.attachments.settle([a.id], messageId)
    t.same((await store.attachments.unsettled(soon, 10)).map((r) => r.id), [b.id])
    await store.attachments.markDeleting(a.id)
    t.equal((await store.attachments.findById(a.id))?.state, 'stored', 'a settled upload is not marked by markDeleting')
    await store.attachments.markDeletingForMessage(messageId)
    t.equal((await store.attachments.findById(a.id))?.state, 'deleting', 'its message\'s deletion marks it')
    t.equal(await store.attachments.usage(owner), 500, 'what is being deleted no longer counts')
    t.same((await store.attachments.deleting(10)).map((r) => r.id), [a.id])
    await store.attachments.remove(a.id)
    t.equal(await store.attachments.findById(a.id), null)

    const orphan = upload({ createdAt: new Date(Date.now() - 7200_000) })
    const cut = upload({ createdAt: new Date(Date.now() - 7200_000) })
    const fresh = upload()
    for (const r of [orphan, cut, fresh]) await store.attachments.insert(r)
    await store.attachments.complete(orphan.id, { type: 'text/plain', size: 1, sha256: 'x' })
    await store.attachments.complete(fresh.id, { type: 'text/plain', size: 1, sha256: 'x' })
    t.equal(await store.attachments.markAbandoned({ storedBefore: old, uploadingBefore: old }), 2, 'the old unclaimed one and the one cut off while uploading')
    t.same((await store.attachments.deleting(10)).map((r) => r.id).sort(), [orphan.id, cut.id].sort())
    t.equal((await store.attachments.findById(b.id))?.state, 'stored', 'a claimed one is never abandoned')
    t.equal((await store.attachments.findById(fresh.id))?.state, 'stored')

    t.equal(await store.attachments.claimSweep(100), true)
    t.equal(await store.attachments.claimSweep(100), false, 'one sweep per window')
    t.equal(await store.attachments.claimSweep(101), true)
  })

  withStore('outbox: an event recorded twice by its key is kept once; claims keep two dispatchers apart; a lease runs out', async (t, store) => {
    const at = new Date(Date.now() - 1000)
    const event = (key: string) => ({ id: newId(), key, type: 'message.created' as const, createdAt: at, body: `{"key":"${key}"}` })
    const first = event('message.created:1')
    await store.outbox.record([first, event('message.created:2')])
    await store.outbox.record([event('message.created:1')])
    t.same((await store.outbox.backlog()).depth, 2, 'the second record of a key is dropped')
    const now = new Date()
    const lease = new Date(now.getTime() + 60_000)
    const claimed = await store.outbox.claimNew(now, lease, 10)
    t.same(claimed.map((e) => e.key), ['message.created:1', 'message.created:2'], 'oldest first')
    t.same(claimed[0]!.body, first.body)
    t.same(await store.outbox.claimNew(now, lease, 10), [], 'leased: nobody else claims them')
    t.same((await store.outbox.claimNew(new Date(lease.getTime() + 1), new Date(lease.getTime() + 60_000), 1)).map((e) => e.key), ['message.created:1'], 'a lease that ran out is claimed again')
    await store.outbox.markExpanded(first.id)
    t.same((await store.outbox.claimNew(new Date(lease.getTime() + 120_000), lease, 10)).map((e) => e.key), ['message.created:2'], 'an expanded event is not claimed again')
    t.same((await store.outbox.findEvents([first.id, newId(), 'bad'])).map((e) => e.state), ['expanded'])

    const endpointId = newId()
    const delivery = (eventId: string, due: Date) => ({ id: newId(), eventId, endpointId, type: 'message.created' as const, createdAt: at, status: 'pending' as const, attempts: 0, nextAttemptAt: due, expiresAt: new Date(Date.now() + 86400_000) })
    const d1 = delivery(first.id, at)
    const d2 = delivery(claimed[1]!.id, new Date(Date.now() + 3600_000))
    await store.outbox.addDeliveries([d1, d2, delivery(first.id, at)])
    t.same((await store.outbox.listDeliveries(endpointId, 10)).length, 2, 'one delivery per event and endpoint')
    const due = await store.outbox.claimDue(now, lease, 10)
    t.same(due.map((d) => d.id), [d1.id], 'only what is due')
    t.same(await store.outbox.claimDue(now, lease, 10), [], 'and claimed once')
    await store.outbox.release([d1.id, 'bad'])
    t.same(await store.outbox.claimDue(now, lease, 10, [endpointId]), [], 'released, but its endpoint is skipped')
    t.same((await store.outbox.claimDue(new Date(), lease, 10, [newId()])).map((d) => d.id), [d1.id], 'released: claimed again')
    await store.outbox.settle(d1.id, { status: 'pending', attempts: 1, nextAttemptAt: now, lastAttemptAt: now, lastStatusCode: 500, lastError: 'answered 500' })
    t.match(await store.outbox.findDelivery(d1.id), { status: 'pending', attempts: 1, lastStatusCode: 500 })
    t.same((await store.outbox.claimDue(new Date(now.getTime() + 1), lease, 10)).map((d) => d.id), [d1.id], 'settled: the lease is dropped')
    await store.outbox.settle(d1.id, { status: 'pending', attempts: 1, nextAttemptAt: now, lastAttemptAt: new Date(now.getTime() + 2), lastStatusCode: 500, lastError: 'answered 500' })
    t.same((await store.outbox.claimDue(new Date(now.getTime() + 3), lease, 10)).map((d) => d.id), [d1.id], 'and again after another attempt')
    await store.outbox.settle(d1.id, { status: 'delivered', attempts: 2, nextAttemptAt: now, lastAttemptAt: now, lastStatusCode: 200, lastError: '', deliveredAt: now })
    t.same((await store.outbox.backlog()).depth, 2, 'one event not expanded, one delivery pending')
    const page = await store.outbox.listDeliveries(endpointId, 1)
    t.same(page.map((d) => d.id), [d2.id], 'newest first')
    t.same((await store.outbox.listDeliveries(endpointId, 10, page[0]!.id)).map((d) => d.id), [d1.id], 'and on from a cursor')
    const again = await store.outbox.retry(d1.id, now, new Date(now.getTime() + 1000))
    t.match(again, { id: d1.id, status: 'pending', attempts: 2 })
    t.equal(await store.outbox.retry(newId(), now, now), null)
    t.equal(await store.outbox.findDelivery('bad'), null)

    // Pruning: finished and old enough goes; an event with a delivery still pending stays, with its deliveries.
    const later = new Date(Date.now() + 1000)
    t.equal(await store.outbox.prune(later, 100), 0, 'd1 is pending again (retried): its event stays')
    await store.outbox.settle(d1.id, { status: 'failed', attempts: 3, nextAttemptAt: now, lastAttemptAt: new Date(now.getTime() + 5), lastError: 'gave up' })
    t.equal(await store.outbox.prune(at, 100), 0, 'nothing created before `before`')
    t.equal(await store.outbox.prune(later, 100), 1, 'the finished event goes')
    t.equal(await store.outbox.findDelivery(d1.id), null, 'with its deliveries')
    t.same((await store.outbox.findEvents([first.id])), [])
    t.same((await store.outbox.listDeliveries(endpointId, 10)).map((d) => d.id), [d2.id], 'the other, still new, stays')

    // Dispatchers racing for the same deliveries (several nodes): each is claimed by one of them.
    const many = Array.from({ length: 20 }, () => delivery(newId(), at))
    await store.outbox.addDeliveries(many)
    const raced = await Promise.all(Array.from({ length: 5 }, () => store.outbox.claimDue(new Date(), new Date(Date.now() + 60_000), 20)))
    const ids = raced.flat().map((d) => d.id)
    t.equal(new Set(ids).size, ids.length, `no delivery claimed twice (${ids.length} claims)`)
    t.ok(many.every((d) => ids.includes(d.id)), 'and every one claimed')
  })

  withStore('event endpoints and bots', async (t, store) => {
    const endpoint = { id: newId(), url: 'https://example.com/hook', events: [], secret: 'whsec_x', createdAt: new Date() }
    await store.eventEndpoints.insert(endpoint)
    t.same(await store.eventEndpoints.findById(endpoint.id), endpoint)
    t.same((await store.eventEndpoints.list()).map((e) => e.id), [endpoint.id])
    t.equal(await store.eventEndpoints.remove(endpoint.id), true)
    t.equal(await store.eventEndpoints.remove(endpoint.id), false)
    t.equal(await store.eventEndpoints.findById('bad'), null)
    const owner = newId()
    const bot = { id: newId(), ownerId: owner, keyHash: 'ab', createdAt: new Date() }
    await store.bots.insert(bot)
    t.same(await store.bots.findById(bot.id), bot)
    t.same((await store.bots.listByOwner(owner)).map((b) => b.id), [bot.id])
    t.same(await store.bots.listByOwner(newId()), [])
    const at = new Date()
    t.equal(await store.bots.revoke(bot.id, at), true)
    t.equal(await store.bots.revoke(bot.id, at), false, 'once')
    t.equal(await store.bots.revoke('bad', at), false)
    t.same((await store.bots.findById(bot.id))?.revokedAt, at)
  })
}
