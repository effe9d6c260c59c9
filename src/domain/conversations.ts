import type { Static } from '@sinclair/typebox'
import type { AttachmentLinks } from './attachments.js'
import type { Conversation, Message } from '../schemas/conversations.js'
import type { ConversationRecord, MembershipRecord, MessageRecord, ReactionRecord, Role } from './types.js'
import { summarizeReactions } from './reactions.js'

/** The key that makes a direct conversation exist once: the two user ids, sorted. */
export const directKeyOf = (a: string, b: string): string => (a < b ? `${a}:${b}` : `${b}:${a}`)

export const isManager = (role: Role | undefined): boolean => role === 'owner' || role === 'admin'

/** Who may do what in a conversation (no I/O: the caller brings the memberships). */
export const policy = {
  canEditDetails: (c: ConversationRecord, actor: MembershipRecord) => c.type === 'group' && isManager(actor.role),
  canAddParticipants: (c: ConversationRecord, actor: MembershipRecord) => c.type === 'group' && isManager(actor.role),
  /** Anyone may leave a group; managers may remove members, and only the owner may remove an admin or owner. */
  canRemoveParticipant: (c: ConversationRecord, actor: MembershipRecord, target: MembershipRecord) => {
    if (c.type !== 'group') return false
    if (actor.userId === target.userId) return true
    if (actor.role === 'owner') return true
    return actor.role === 'admin' && target.role === 'member'
  },
  canSetRole: (c: ConversationRecord, actor: MembershipRecord) => c.type === 'group' && actor.role === 'owner',
  canEditMessage: (m: MessageRecord, actorId: string) => m.senderId === actorId,
  /** Own messages; in groups, owners and admins may delete any. */
  canDeleteMessage: (c: ConversationRecord, m: MessageRecord, actor: MembershipRecord) =>
    m.senderId === actor.userId || (c.type === 'group' && isManager(actor.role)),
  /** In a direct conversation either participant; in a group, owners and admins. */
  canPin: (c: ConversationRecord, actor: MembershipRecord) => c.type === 'direct' || isManager(actor.role)
}

/**
 * Who inherits ownership when the last owner leaves: the oldest admin, else
 * the oldest member. `members` is oldest first and no longer holds the leaver.
 */
export function nextOwner (members: MembershipRecord[]): MembershipRecord | undefined {
  if (members.some((m) => m.role === 'owner')) return undefined
  return members.find((m) => m.role === 'admin') ?? members[0]
}

/** A conversation as clients see it: the Conversation schema's type. */
export type ConversationView = Static<typeof Conversation>

export function toConversationView (c: ConversationRecord, unreadCount: number, unreadMentionCount = 0): ConversationView {
  return {
    id: c.id,
    type: c.type,
    ...(c.name !== undefined && { name: c.name }),
    ...(c.avatar !== undefined && { avatar: c.avatar }),
    participantIds: c.participantIds,
    createdBy: c.createdBy,
    ...(c.lastMessage !== undefined && { lastMessage: { ...c.lastMessage, sentAt: c.lastMessage.sentAt.toISOString() } }),
    lastSeq: c.lastSeq,
    version: c.version,
    unreadCount,
    unreadMentionCount,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString()
  }
}

/** A message as clients see it: the Message schema's type. */
export type MessageView = Static<typeof Message>

/**
 * A message as clients see it. deliveredTo and readBy are derived from the
 * members' watermarks (O(1) per receipt to store): a member whose watermark
 * reached the seq has it, at the time the watermark last moved.
 */
/** The API's message; `reactions` are its reaction records (others' are ignored; none shown on a deleted message). */
export function toMessageView (m: MessageRecord, members: readonly MembershipRecord[], reactions: readonly ReactionRecord[], links: AttachmentLinks): MessageView {
  const others = members.filter((x) => x.userId !== m.senderId)
  return {
    id: m.id,
    conversationId: m.conversationId,
    seq: m.seq,
    senderId: m.senderId,
    content: m.content,
    contentType: m.contentType,
    attachments: links.views(m.attachments),
    clientMessageId: m.clientMessageId,
    version: m.version,
    sentAt: m.sentAt.toISOString(),
    ...(m.editedAt !== undefined && { editedAt: m.editedAt.toISOString() }),
    ...(m.deletedAt !== undefined && { deletedAt: m.deletedAt.toISOString() }),
    ...(m.threadId !== undefined && { threadId: m.threadId }),
    ...(m.thread !== undefined && {
      thread: {
        replyCount: m.thread.replyCount,
        ...(m.thread.lastReplyAt !== undefined && { lastReplyAt: m.thread.lastReplyAt.toISOString(), lastReplySeq: m.thread.lastReplySeq! }),
        participantIds: [...m.thread.participantIds]
      }
    }),
    ...(m.unreadable === true && { unreadable: true }),
    mentions: m.mentions ?? [],
    ...(m.mentionsAll === true && { mentionsAll: true }),
    ...(m.replyTo !== undefined && { replyTo: { ...m.replyTo } }),
    ...(m.pinnedAt !== undefined && { pinnedAt: m.pinnedAt.toISOString(), pinnedBy: m.pinnedBy! }),
    deliveredTo: others.filter((x) => x.deliveredSeq >= m.seq).map((x) => ({ userId: x.userId, deliveredAt: (x.deliveredAt ?? m.sentAt).toISOString() })),
    readBy: others.filter((x) => x.readSeq >= m.seq).map((x) => ({ userId: x.userId, readAt: (x.readAt ?? m.sentAt).toISOString() })),
    reactions: m.deletedAt !== undefined ? [] : summarizeReactions(reactions.filter((r) => r.messageId === m.id))
  }
}
