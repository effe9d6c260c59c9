import { Type, type Static } from '@sinclair/typebox'
import type { MessageLimits } from '../domain/messages.js'
import { DateTime, Id, refOf } from './common.js'
import { ID_PATTERN } from '../domain/ids.js'

export const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'position in the conversation, assigned by the server; strictly increasing, gaps allowed', examples: [42] })

export const Version = Type.Integer({
  minimum: 0, maximum: Number.MAX_SAFE_INTEGER,
  description: 'the number of its latest change in the conversation: unique and increasing within it, shared with seqs (a new message\'s version is its seq; an edit or deletion takes the next number). A sync cursor is the highest version a device has seen.',
  examples: [57]
})

export const ClientMessageId = Type.String({
  minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$',
  description: 'chosen by the client; a resend with the same value from the same sender answers the first message instead of creating a second',
  examples: ['c-7f3a9e2b']
})

export const ContentType = Type.Union([Type.Literal('text'), Type.Literal('image'), Type.Literal('file'), Type.Literal('location')], { default: 'text' })

/** A message's content, at most `maxLength` characters: MESSAGE_MAX_LENGTH of the server that serves the schema. */
export const messageContent = (maxLength: number) => Type.String({
  maxLength,
  description: `text (at most ${maxLength} characters: MESSAGE_MAX_LENGTH); a caption for image and file; "<latitude>,<longitude>" for location`,
  examples: ['Hello!']
})

/** An attachment a send links to, kept by the client somewhere else. */
export const LinkAttachment = Type.Object({
  url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048, examples: ['https://cdn.example.com/cat.png'] }),
  type: Type.String({ minLength: 1, maxLength: 255, description: 'a media type', examples: ['image/png'] }),
  name: Type.Optional(Type.String({ maxLength: 255, examples: ['cat.png'] })),
  size: Type.Optional(Type.Integer({ minimum: 0, description: 'bytes', examples: [48213] }))
}, { additionalProperties: false, title: 'LinkAttachment' })

/** An upload a send carries, by the id POST /conversations/:id/attachments answered. */
export const UploadReference = Type.Object({
  id: Type.String({ pattern: ID_PATTERN, description: 'an upload of the sender to this conversation, not carried by another message', examples: ['665f1c2ab4d5e6f7a8b9c0d1'] })
}, { additionalProperties: false, title: 'UploadReference' })

/**
 * What a send's attachments hold: an upload by `id`, or a link. Chosen by the
 * presence of `id` (if/then/else rather than anyOf), so a bad link's error
 * names the link's field, not the upload reference's missing `id`.
 */
export const AttachmentInput = Type.Unsafe<Static<typeof UploadReference> | Static<typeof LinkAttachment>>({
  if: { type: 'object', required: ['id'] },
  then: UploadReference,
  else: LinkAttachment,
  title: 'AttachmentInput',
  description: 'an upload by its id (`{id}`), or a link (`{url, type, name?, size?}`)'
})

/** An attachment as a message shows it: a link as it was sent, or an upload with its signed links. */
export const Attachment = Type.Object({
  url: Type.String({ description: 'a link as sent; for an upload, its signed path (resolve it against the API\'s base URL), which expires (ATTACHMENT_URL_TTL_SECONDS): read the message again for a new one', examples: ['/v1/attachments/665f1c2ab4d5e6f7a8b9c0d1?expires=1796140800&signature=k3yP0…'] }),
  type: Type.String({ description: 'a media type; for an upload, the one found in its bytes', examples: ['image/png'] }),
  name: Type.Optional(Type.String({ examples: ['cat.png'] })),
  size: Type.Optional(Type.Integer({ minimum: 0, description: 'bytes', examples: [48213] })),
  id: Type.Optional(Id),
  sha256: Type.Optional(Type.String({ description: 'an upload\'s SHA-256, hex', examples: ['9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'] })),
  thumbnailUrl: Type.Optional(Type.String({ description: 'an image upload\'s thumbnail (WebP, at most 320 px each way), signed as url is' })),
  width: Type.Optional(Type.Integer({ minimum: 1, description: 'an image upload\'s width in pixels, as shown (EXIF orientation applied)' })),
  height: Type.Optional(Type.Integer({ minimum: 1 }))
}, { title: 'Attachment' })

/** What POST /conversations/:id/attachments answers. */
export const Upload = Type.Object({
  id: Id,
  conversationId: Id,
  name: Type.String({ examples: ['cat.png'] }),
  type: Type.String({ description: 'the MIME type found in the bytes, not the one claimed', examples: ['image/png'] }),
  size: Type.Integer({ minimum: 0 }),
  sha256: Type.String(),
  url: Type.String({ description: 'signed and expiring, as in a message' }),
  thumbnailUrl: Type.Optional(Type.String()),
  width: Type.Optional(Type.Integer({ minimum: 1 })),
  height: Type.Optional(Type.Integer({ minimum: 1 }))
}, { $id: 'Upload', title: 'Upload' })

/**
 * What a send carries, whoever sends it: the REST body, the webhook body, and
 * (with conversationId, and clientMessageId required) the websocket frame.
 * Its bounds are the server's own (MESSAGE_MAX_LENGTH, MESSAGE_MAX_ATTACHMENTS),
 * so the documents it serves say what it accepts.
 */
export const sendMessageBody = (limits: MessageLimits) => Type.Object({
  content: Type.Optional(messageContent(limits.maxTextLength)),
  contentType: Type.Optional(ContentType),
  attachments: Type.Optional(Type.Array(AttachmentInput, { maxItems: limits.maxAttachments, description: `at most ${limits.maxAttachments} (MESSAGE_MAX_ATTACHMENTS): uploads by id, or links` })),
  clientMessageId: Type.Optional(ClientMessageId),
  replyTo: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'the id of a message of the same conversation, not deleted, that this one replies to (quotes)' })),
  threadId: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'the root of the thread this message is a reply in: a message of the same conversation, not deleted, that is not itself in a thread' }))
}, { additionalProperties: false, title: 'SendMessageBody' })

export type SendMessageInput = Static<ReturnType<typeof sendMessageBody>>

export const editMessageBody = (limits: MessageLimits) => Type.Object({ content: messageContent(limits.maxTextLength) }, { additionalProperties: false, title: 'EditMessageBody' })

export const Message = Type.Object({
  id: Id,
  conversationId: Id,
  seq: Seq,
  senderId: Id,
  content: Type.String(),
  contentType: ContentType,
  attachments: Type.Array(Attachment),
  clientMessageId: Type.Optional(Type.String()),
  version: Version,
  sentAt: DateTime,
  editedAt: Type.Optional(DateTime),
  deletedAt: Type.Optional(DateTime),
  threadId: Type.Optional(Id),
  thread: Type.Optional(Type.Object({
    replyCount: Type.Integer({ minimum: 0, description: 'replies not deleted' }),
    lastReplyAt: Type.Optional(DateTime),
    lastReplySeq: Type.Optional(Seq),
    participantIds: Type.Array(Id, { description: 'who replied, sorted by id' })
  }, { description: 'on a thread\'s root: its replies summed up (every reply, and every deletion of one, moves the root to a new version: message_updated)' })),
  unreadable: Type.Optional(Type.Boolean({ description: 'true: its stored content would not decrypt (tampered with, or moved from another message); content is empty and the failure is logged' })),
  mentions: Type.Array(Id, { description: 'participants mentioned by @username (never the sender)' }),
  mentionsAll: Type.Optional(Type.Boolean({ description: 'true: @all by an owner or admin of a group' })),
  replyTo: Type.Optional(Type.Object({
    id: Id,
    seq: Seq,
    senderId: Id,
    content: Type.String({ description: 'the first 200 characters of the original as it is now (edited: the new text; deleted: empty)' })
  }, { description: 'the message this one replies to' })),
  pinnedAt: Type.Optional(DateTime),
  pinnedBy: Type.Optional(Id),
  deliveredTo: Type.Array(Type.Object({ userId: Id, deliveredAt: DateTime })),
  readBy: Type.Array(Type.Object({ userId: Id, readAt: DateTime })),
  reactions: Type.Array(Type.Object({
    emoji: Type.String(),
    count: Type.Integer({ minimum: 1 }),
    userIds: Type.Array(Id, { description: 'the first 50 who reacted so, oldest first' })
  }), { description: 'by emoji, in the order each was first used; empty on a deleted message' })
}, { $id: 'Message', title: 'Message', description: 'deliveredTo and readBy list the other participants whose watermark reached this seq' })

export const Conversation = Type.Object({
  id: Id,
  type: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
  name: Type.Optional(Type.String()),
  avatar: Type.Optional(Type.String()),
  participantIds: Type.Array(Id),
  createdBy: Id,
  lastMessage: Type.Optional(Type.Object({ id: Id, seq: Seq, content: Type.String(), senderId: Id, sentAt: DateTime, contentType: Type.Optional(ContentType), deleted: Type.Optional(Type.Boolean({ description: 'true: it was deleted (content is empty)' })) })),
  lastSeq: Type.Integer({ minimum: 0, description: 'the highest number taken in the conversation: its last message\'s seq, or a later change\'s version' }),
  version: Type.Integer({ minimum: 0, description: 'the version of the last change of its name, avatar, participants or roles (0: none since it was created)' }),
  unreadCount: Type.Integer({ minimum: 0, description: 'messages after my read watermark, not sent by me, not deleted (counted up to 1000)' }),
  unreadMentionCount: Type.Integer({ minimum: 0, description: 'of those, the ones that mention me (or @all), as they read now: an edit that drops the mention or a deletion stops it counting (up to 1000)' }),
  createdAt: DateTime,
  updatedAt: DateTime
}, { $id: 'Conversation', title: 'Conversation' })

export const MessageRef = refOf(Message)
export const ConversationRef = refOf(Conversation)
