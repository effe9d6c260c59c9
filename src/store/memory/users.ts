import { resealIn, scanIn } from './reseal.js'
import type { NewUser, UserPatch, UserRecord } from '../../domain/types.js'
import type { UserRepository } from '../port.js'
import { newId } from '../ids.js'
import { UniqueIndex, copy } from './unique-index.js'

export function createMemoryUserRepository (): UserRepository {
  const users = new Map<string, UserRecord>()
  const byUsername = new UniqueIndex<UserRecord>('username', (u) => u.usernameLower)
  const byEmail = new UniqueIndex<UserRecord>('email', (u) => u.emailLower)

  return {
    async scan (afterId, limit) { return scanIn(users, afterId, limit) },
    async reseal (id, guard, set) {
      // The email index follows a new emailLower (and refuses one another user holds).
      return resealIn(users, id, guard, set, (before, after) => {
        if (after.emailLower === before.emailLower) return
        byEmail.check(after, id)
        byEmail.remove(before)
        byEmail.add(after, id)
      })
    },
    async create (input: NewUser) {
      const now = new Date()
      const user: UserRecord = {
        id: newId(),
        username: input.username,
        usernameLower: input.username.toLowerCase(),
        email: input.email,
        emailLower: input.emailLower ?? input.email.toLowerCase(),
        ...(input.displayName !== undefined && { displayName: input.displayName }),
        passwordHash: input.passwordHash,
        kind: input.kind ?? 'user',
        createdAt: now,
        lastSeen: now
      }
      byUsername.check(user, user.id)
      byEmail.check(user, user.id)
      byUsername.add(user, user.id)
      byEmail.add(user, user.id)
      users.set(user.id, user)
      return copy(user)
    },

    async findById (id) {
      const user = users.get(id)
      return user === undefined ? null : copy(user)
    },

    async findByIds (ids) {
      return ids.flatMap((id) => {
        const user = users.get(id)
        return user === undefined ? [] : [copy(user)]
      })
    },

    async findByLogin (loginLower) {
      const id = byUsername.get(loginLower) ?? byEmail.get(loginLower)
      const user = id === undefined ? undefined : users.get(id)
      return user === undefined ? null : copy(user)
    },

    async searchByUsernamePrefix (prefixLower, limit) {
      return [...users.values()]
        .filter((u) => u.usernameLower.startsWith(prefixLower))
        .sort((a, b) => (a.usernameLower < b.usernameLower ? -1 : a.usernameLower > b.usernameLower ? 1 : 0))
        .slice(0, limit)
        .map(copy)
    },

    async update (id, patch: UserPatch) {
      const user = users.get(id)
      if (user === undefined) return null
      for (const key of ['displayName', 'avatar'] as const) {
        const value = patch[key]
        if (value === null) delete user[key]
        else if (value !== undefined) user[key] = value
      }
      return copy(user)
    },

    async touchLastSeen (id, at) {
      const user = users.get(id)
      if (user !== undefined && user.lastSeen < at) user.lastSeen = at
    }
  }
}
