import { notFound } from '../domain/errors.js'
import { toPublicUser, toSelfUser, type PublicUser, type SelfUser } from '../domain/users.js'
import type { UserPatch } from '../domain/types.js'
import type { Store } from '../store/port.js'

export const USER_SEARCH_MAX = 50

export function createUserService ({ store }: { store: Store }) {
  return {
    /** Of `userIds`, the ones who share at least one conversation with `userId` (and `userId` itself): whose presence they may see. */
    async sharingAConversation (userId: string, userIds: readonly string[]): Promise<string[]> {
      const mine = await store.memberships.conversationIdsOf(userId)
      const shared = await Promise.all(userIds.map(async (id) => id === userId || (mine.length > 0 && (await store.memberships.listForUser(id, mine)).length > 0)))
      return userIds.filter((_, i) => shared[i])
    },

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
