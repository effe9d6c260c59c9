import { notFound } from '../domain/errors.js'
import { toPublicUser, toSelfUser, type PublicUser, type SelfUser } from '../domain/users.js'
import type { UserPatch } from '../domain/types.js'
import type { Store } from '../store/port.js'

export const USER_SEARCH_MAX = 50

export function createUserService ({ store }: { store: Store }) {
  return {
    async me (userId: string): Promise<SelfUser> {
      const user = await store.users.findById(userId)
      if (user === null) throw notFound('user')
      return toSelfUser(user)
    },

    async updateMe (userId: string, patch: UserPatch): Promise<SelfUser> {
      const user = await store.users.update(userId, patch)
      if (user === null) throw notFound('user')
      return toSelfUser(user)
    },

    async get (id: string): Promise<PublicUser> {
      const user = await store.users.findById(id)
      if (user === null) throw notFound('user')
      return toPublicUser(user)
    },

    /** Users whose username starts with `query`, case-insensitively, by username. */
    async search (query: string, limit: number): Promise<PublicUser[]> {
      const users = await store.users.searchByUsernamePrefix(query.toLowerCase(), Math.min(limit, USER_SEARCH_MAX))
      return users.map(toPublicUser)
    }
  }
}

export type UserService = ReturnType<typeof createUserService>
