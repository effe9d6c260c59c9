import { DuplicateKeyError, conflict, forbidden, notFound, validationError } from '../domain/errors.js'
import { directKeyOf, nextOwner, policy, toConversationView, type ConversationView } from '../domain/conversations.js'
import { CONVERSATION_TARGET, type ConversationRecord, type MembershipRecord, type Role } from '../domain/types.js'
import type { ConversationCursor, Store } from '../store/port.js'
import { newId } from '../store/ids.js'
import { isId } from '../domain/ids.js'
import { requireMember } from './access.js'
import { channels } from '../domain/channels.js'
import type { Publish } from './publisher.js'
import type { SendPipeline } from './send-pipeline.js'
import { enforceLimit } from '../limits/enforce.js'
import type { Limiter } from '../limits/port.js'
import type { EventRecorder } from './messages.js'

export interface ConversationServiceDeps {
  store: Store
  publish: Publish
  /** Where changes of a conversation's details take their version, in order with its messages. */
  pipeline: SendPipeline
  /** Per-user limits on what a user changes (absent: unlimited). */
  limiters?: { create?: Limiter, participants?: Limiter, update?: Limiter }
  groupMaxParticipants: number
  /** Groups one user may have created. */
  maxGroupsPerUser: number
  /** Outgoing events: each change recorded after it is stored, before it is answered (absent: none). */
  events?: EventRecorder
  /** A membership ended (removed or left): caches of it must go (never fails). */
  onMembershipEnded?: (conversationId: string, userId: string) => Promise<void>
  now?: () => Date
}

export type CreateInput =
  | { type: 'direct', participantIds: string[] }
  | { type: 'group', name: string, avatar?: string, participantIds: string[] }

/** Counted exactly up to this many; more shows as this number. */
const UNREAD_CAP = 1000

const encodeCursor = (c: ConversationRecord) => Buffer.from(JSON.stringify([c.updatedAt.toISOString(), c.id])).toString('base64url')

function decodeCursor (cursor: string): ConversationCursor {
  try {
    const [updatedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string]
    const date = new Date(updatedAt)
    if (Number.isNaN(date.getTime()) || !isId(id)) throw new Error('bad cursor')
    return { updatedAt: date, id }
  } catch {
    throw validationError('cursor is not one this server issued', { field: 'cursor' })
  }
}

export function createConversationService (deps: ConversationServiceDeps) {
  const { store, publish } = deps
  const now = deps.now ?? (() => new Date())
  const record = deps.events?.record ?? (async () => {})
  /** What an event tells of a conversation: its view without anyone's unread counts. */
  const eventData = (c: ConversationRecord) => {
    const { unreadCount: _count, unreadMentionCount: _mentions, ...view } = toConversationView(c, 0)
    return view as unknown as Record<string, unknown>
  }
  const conversationCreated = (c: ConversationRecord) => record([{ key: `conversation.created:${c.id}`, type: 'conversation.created', data: eventData(c) }])
  /** Counts one change by `userId` against its limit; RATE_LIMITED when over. */
  const limit = async (limiter: Limiter | undefined, userId: string) => { if (limiter !== undefined) await enforceLimit(limiter, userId) }

  /** My unread count and unread mention count in `c`, for its view. */
  async function unreadFor (c: ConversationRecord, m: MembershipRecord | undefined, userId: string): Promise<[number, number]> {
    if (m === undefined || c.lastSeq <= m.readSeq) return [0, 0]
    return Promise.all([
      store.messages.countUnread(c.id, m.readSeq, userId, UNREAD_CAP),
      store.messages.countUnreadMentions(c.id, m.readSeq, userId, UNREAD_CAP)
    ])
  }

  async function viewFor (c: ConversationRecord, userId: string): Promise<ConversationView> {
    const m = await store.memberships.find(c.id, userId)
    return toConversationView(c, ...await unreadFor(c, m ?? undefined, userId))
  }

  /**
   * Re-derives participantIds from the memberships (the source of truth), at
   * the conversation's next version, and tells everyone concerned. The
   * memberships are read when the version is claimed, so of two changes in a
   * row the later one's list stands.
   */
  async function syncParticipants (conversationId: string, alsoNotify: string[] = []): Promise<ConversationRecord> {
    return deps.pipeline.change(conversationId, CONVERSATION_TARGET, async (version) => {
      const members = await store.memberships.listByConversation(conversationId)
      const updated = await store.conversations.setParticipants(conversationId, members.map((m) => m.userId), now(), version)
      if (updated === null) throw notFound('conversation')
      await announce(updated, alsoNotify)
      return updated
    })
  }

  /**
   * conversation_updated on each concerned user's channel (participants, and
   * users just removed), so each device gets it once and the hub can move the
   * user's sockets into or out of the conversation. unreadCount differs per
   * reader: live events carry 0 and clients keep their own count.
   */
  async function announce (c: ConversationRecord, alsoNotify: string[] = []) {
    const live = { event: { type: 'conversation_updated', conversation: toConversationView(c, 0) } }
    for (const userId of new Set([...c.participantIds, ...alsoNotify])) await publish(channels.user(userId), live)
  }

  /** People, and bots made by POST /bots that are not revoked (a webhook's bot posts only where its webhook is). */
  async function requireUsers (ids: string[], field: string) {
    const found = await store.users.findByIds(ids)
    const bots = new Set((await Promise.all(found.filter((u) => u.kind === 'bot').map((u) => store.bots.findById(u.id))))
      .filter((b) => b !== null && b.revokedAt === undefined).map((b) => b!.id))
    const missing = ids.filter((id) => !found.some((u) => u.id === id && (u.kind === 'user' || bots.has(id))))
    if (missing.length > 0) throw validationError(`unknown users: ${missing.join(', ')}`, { field })
  }

  const member = (conversationId: string, userId: string, role: Role, at: Date): MembershipRecord =>
    ({ conversationId, userId, role, joinedAt: at, deliveredSeq: 0, readSeq: 0 })

  async function createDirect (userId: string, otherId: string): Promise<{ conversation: ConversationView, created: boolean }> {
    if (otherId === userId) throw validationError('a direct conversation is with someone else', { field: 'participantIds' })
    await requireUsers([otherId], 'participantIds')
    const directKey = directKeyOf(userId, otherId)
    let conversation = await store.conversations.findByDirectKey(directKey)
    let created = false
    if (conversation === null) {
      const at = now()
      try {
        conversation = await store.conversations.insert({
          id: newId(), type: 'direct', participantIds: [userId, otherId], createdBy: userId, directKey, lastSeq: 0, version: 0, createdAt: at, updatedAt: at
        })
        created = true
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err
        conversation = await store.conversations.findByDirectKey(directKey)
        if (conversation === null) throw err
      }
    }
    // Idempotent, so a crash between the two writes is finished by the next request.
    const at = now()
    await store.memberships.addMany([member(conversation.id, userId, 'member', at), member(conversation.id, otherId, 'member', at)])
    if (created) await announce(conversation)
    await conversationCreated(conversation)
    return { conversation: await viewFor(conversation, userId), created }
  }

  return {
    /** The conversation as `userId` sees it (their unread count), given their membership. */
    viewFor: async (c: ConversationRecord, userId: string, membership: MembershipRecord | undefined): Promise<ConversationView> =>
      toConversationView(c, ...await unreadFor(c, membership, userId)),

    /** A direct conversation between the same two users exists once (created: false when it did). */
    async create (userId: string, input: CreateInput): Promise<{ conversation: ConversationView, created: boolean }> {
      await limit(deps.limiters?.create, userId)
      if (input.type === 'direct') {
        if (input.participantIds.length !== 1) throw validationError('a direct conversation names exactly one other participant', { field: 'participantIds' })
        return createDirect(userId, input.participantIds[0]!)
      }
      const others = [...new Set(input.participantIds)].filter((id) => id !== userId)
      if (others.length + 1 < 2 || others.length + 1 > deps.groupMaxParticipants) {
        throw validationError(`a group has 2 to ${deps.groupMaxParticipants} participants, you included`, { field: 'participantIds' })
      }
      await requireUsers(others, 'participantIds')
      // Checked before the insert: creations racing past it are bounded by the per-user creation limit.
      if (await store.conversations.countGroupsCreatedBy(userId) >= deps.maxGroupsPerUser) {
        throw conflict(`you have created ${deps.maxGroupsPerUser} groups, the most one user may`)
      }
      const at = now()
      const id = newId()
      const conversation = await store.conversations.insert({
        id, type: 'group', name: input.name, ...(input.avatar !== undefined && { avatar: input.avatar }),
        participantIds: [userId, ...others], createdBy: userId, directKey: `group:${id}`, lastSeq: 0, version: 0, createdAt: at, updatedAt: at
      })
      await store.memberships.addMany([member(id, userId, 'owner', at), ...others.map((o) => member(id, o, 'member', at))])
      await announce(conversation)
      await conversationCreated(conversation)
      return { conversation: toConversationView(conversation, 0), created: true }
    },

    /** Most recent activity first; nextCursor is null on the last page. */
    async list (userId: string, limit: number, cursor?: string): Promise<{ items: ConversationView[], nextCursor: string | null }> {
      const after = cursor === undefined ? undefined : decodeCursor(cursor)
      const page = await store.conversations.listForUser(userId, limit + 1, after)
      const shown = page.slice(0, limit)
      const memberships = await store.memberships.listForUser(userId, shown.map((c) => c.id))
      const byId = new Map(memberships.map((m) => [m.conversationId, m]))
      const items = await Promise.all(shown.map(async (c) => toConversationView(c, ...await unreadFor(c, byId.get(c.id), userId))))
      const last = shown[shown.length - 1]
      return { items, nextCursor: page.length > limit && last !== undefined ? encodeCursor(last) : null }
    },

    async get (userId: string, conversationId: string): Promise<ConversationView> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      return toConversationView(conversation, ...await unreadFor(conversation, membership, userId))
    },

    async update (userId: string, conversationId: string, patch: { name?: string, avatar?: string | null }): Promise<ConversationView> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      if (!policy.canEditDetails(conversation, membership)) {
        throw forbidden(conversation.type === 'direct' ? 'a direct conversation has no name or avatar' : 'only the owner and admins may change the group')
      }
      await limit(deps.limiters?.update, userId)
      const updated = await deps.pipeline.change(conversationId, CONVERSATION_TARGET, async (version) => {
        const changed = await store.conversations.update(conversationId, patch, now(), version)
        if (changed === null) throw notFound('conversation')
        await announce(changed)
        await record([{ key: `conversation.updated:${conversationId}:${version}`, type: 'conversation.updated', data: eventData(changed) }])
        return changed
      })
      return viewFor(updated, userId)
    },

    async addParticipants (userId: string, conversationId: string, userIds: string[]): Promise<ConversationView> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      if (!policy.canAddParticipants(conversation, membership)) {
        throw forbidden(conversation.type === 'direct' ? 'a direct conversation has two participants, always' : 'only the owner and admins may add participants')
      }
      await limit(deps.limiters?.participants, userId)
      const wanted = [...new Set(userIds)].filter((id) => !conversation.participantIds.includes(id))
      await requireUsers(wanted, 'userIds')
      if (conversation.participantIds.length + wanted.length > deps.groupMaxParticipants) {
        throw validationError(`a group has at most ${deps.groupMaxParticipants} participants`, { field: 'userIds' })
      }
      const at = now()
      await store.memberships.addMany(wanted.map((id) => member(conversationId, id, 'member', at)))
      // Before the participant list moves on: a retry after a crash here finds them missing from it again, and records them once (the key holds the version read).
      await record(wanted.map((id) => ({ key: `member.added:${conversationId}:${id}:${conversation.version}`, type: 'member.added' as const, data: { conversationId, userId: id, role: 'member', addedBy: userId, joinedAt: at.toISOString() } })))
      return viewFor(await syncParticipants(conversationId), userId)
    },

    /** Removes a participant, or leaves (target = self). The last owner leaving hands ownership on. */
    async removeParticipant (userId: string, conversationId: string, targetId: string): Promise<void> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      const target = targetId === userId ? membership : await store.memberships.find(conversationId, targetId)
      if (target === null) throw notFound('participant')
      if (!policy.canRemoveParticipant(conversation, membership, target)) {
        throw forbidden(conversation.type === 'direct' ? 'nobody leaves a direct conversation' : 'you may not remove this participant')
      }
      // Leaving is always allowed; removing others counts against the limit.
      if (targetId !== userId) await limit(deps.limiters?.participants, userId)
      await store.memberships.remove(conversationId, targetId)
      await record([{ key: `member.removed:${conversationId}:${targetId}:${conversation.version}`, type: 'member.removed', data: { conversationId, userId: targetId, removedBy: userId, left: targetId === userId } }])
      await deps.onMembershipEnded?.(conversationId, targetId)
      if (target.role === 'owner') {
        const heir = nextOwner(await store.memberships.listByConversation(conversationId))
        if (heir !== undefined) await store.memberships.setRole(conversationId, heir.userId, 'owner')
      }
      await syncParticipants(conversationId, [targetId])
    },

    /** The owner makes members admins (or back), or hands ownership on (the old owner becomes an admin). */
    async setRole (userId: string, conversationId: string, targetId: string, role: Role): Promise<ConversationView> {
      const { conversation, membership } = await requireMember(store, conversationId, userId)
      if (!policy.canSetRole(conversation, membership)) throw forbidden('only the owner may change roles')
      await limit(deps.limiters?.participants, userId)
      const target = await store.memberships.find(conversationId, targetId)
      if (target === null) throw notFound('participant')
      if (targetId === userId) throw validationError('hand ownership to someone else instead', { field: 'userId' })
      if (role === 'owner') {
        // A conditional hand-over: of two at once, only the one that still finds the caller the owner goes on.
        if (!await store.memberships.setRole(conversationId, userId, 'admin', 'owner')) throw forbidden('only the owner may change roles')
        if (!await store.memberships.setRole(conversationId, targetId, 'owner')) {
          await store.memberships.setRole(conversationId, userId, 'owner', 'admin')
          throw notFound('participant')
        }
      } else if (!await store.memberships.setRole(conversationId, targetId, role)) {
        throw notFound('participant')
      }
      return viewFor(await syncParticipants(conversationId), userId)
    },

    /** Every member with their role, oldest first. */
    async participants (userId: string, conversationId: string) {
      await requireMember(store, conversationId, userId)
      const members = await store.memberships.listByConversation(conversationId)
      return members.map((m) => ({ userId: m.userId, role: m.role, joinedAt: m.joinedAt.toISOString(), deliveredSeq: m.deliveredSeq, readSeq: m.readSeq }))
    }
  }
}

export type ConversationService = ReturnType<typeof createConversationService>
