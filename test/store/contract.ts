/**
 * The store contract: every adapter runs these same tests (STYLE.md rule 14).
 */
import type { Test } from 'tap'
import { DuplicateKeyError } from '../../src/domain/errors.js'
import { newId } from '../../src/store/ids.js'
import type { Store } from '../../src/store/port.js'

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
  })
}
