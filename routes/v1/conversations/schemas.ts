import { Type, type Static } from '@sinclair/typebox'
import { Id } from '../../../src/schemas/common.js'
import { ID_PATTERN } from '../../../src/domain/ids.js'
import { ClientMessageId, ConversationRef, MessageRef, Seq } from '../../../src/schemas/conversations.js'
import { AvatarUrl } from '../../../src/schemas/users.js'

const GroupName = Type.String({ minLength: 1, maxLength: 100, examples: ['Team'] })

const CreateDirect = Type.Object({
  type: Type.Literal('direct'),
  participantIds: Type.Array(Id, { minItems: 1, maxItems: 1, description: 'the other user' })
}, { additionalProperties: false, title: 'CreateDirect' })

const CreateGroup = Type.Object({
  type: Type.Literal('group'),
  name: GroupName,
  avatar: Type.Optional(AvatarUrl),
  participantIds: Type.Array(Id, { minItems: 1, maxItems: 100000, description: 'the other members; the creator becomes the owner' })
}, { additionalProperties: false, title: 'CreateGroup' })

/** oneOf with a discriminator: a body is checked against the branch its `type` names, so errors name the right field. */
export const CreateConversationBody = Type.Unsafe<Static<typeof CreateDirect> | Static<typeof CreateGroup>>({
  type: 'object',
  required: ['type'],
  oneOf: [CreateDirect, CreateGroup],
  discriminator: { propertyName: 'type' }
})

export const ConversationParams = Type.Object({ id: Id })
export const ParticipantParams = Type.Object({ id: Id, userId: Id })
export const MessageParams = Type.Object({ id: Id, messageId: Id })
export const ReactionParams = Type.Object({
  id: Id,
  messageId: Id,
  emoji: Type.String({ minLength: 1, maxLength: 64, description: 'URL-encoded: one emoji, or a :shortcode: of at most 64 characters (a-z, 0-9, _ + -)' })
})
export const WebhookParams = Type.Object({ id: Id, webhookId: Id })

export const ListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' }))
}, { additionalProperties: false })

export const ConversationPage = Type.Object({
  items: Type.Array(ConversationRef),
  nextCursor: Type.Union([Type.String(), Type.Null()])
}, { title: 'ConversationPage' })

export const UpdateConversationBody = Type.Object({
  name: Type.Optional(GroupName),
  avatar: Type.Optional(Type.Union([AvatarUrl, Type.Null()], { description: 'null clears it' }))
}, { additionalProperties: false, minProperties: 1 })

export const AddParticipantsBody = Type.Object({ userIds: Type.Array(Id, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false })

export const SetRoleBody = Type.Object({
  role: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')], { description: 'owner hands ownership on; the old owner becomes an admin' })
}, { additionalProperties: false })

export const ParticipantList = Type.Object({
  items: Type.Array(Type.Object({
    userId: Id,
    role: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]),
    joinedAt: Type.String({ format: 'date-time' }),
    deliveredSeq: Seq,
    readSeq: Seq
  }))
}, { title: 'ParticipantList' })

export const HistoryQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  beforeSeq: Type.Optional(Seq),
  afterSeq: Type.Optional(Seq),
  threadId: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'page one thread: its root and its replies' }))
}, { additionalProperties: false })

export const MessagePage = Type.Object({
  items: Type.Array(MessageRef, { description: 'sorted by seq ascending' }),
  hasMore: Type.Boolean({ description: 'more messages exist beyond this page in the direction paged (older without afterSeq, newer with it)' })
}, { title: 'MessagePage' })

export const PinList = Type.Object({
  items: Type.Array(MessageRef, { description: 'the newest pin first' })
}, { title: 'PinList' })

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(ClientMessageId)
})

export const ReadBody = Type.Object({ seq: Seq }, { additionalProperties: false })

export const CreateWebhookBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64, description: 'shown as the sender\'s display name', examples: ['CI'] })
}, { additionalProperties: false })

export const Webhook = Type.Object({
  id: Id,
  name: Type.String(),
  conversationId: Id,
  botUserId: Id,
  createdBy: Id,
  createdAt: Type.String({ format: 'date-time' }),
  active: Type.Boolean({ description: 'false once its creator is no longer a participant: posts through it are then refused (403)' })
}, { title: 'Webhook' })

export const CreatedWebhook = Type.Object({
  ...Webhook.properties,
  token: Type.String({ description: 'shown once; only its hash is stored' }),
  url: Type.String({ format: 'uri', description: 'POST messages here; no other credential is needed' })
}, { title: 'CreatedWebhook' })

export const WebhookList = Type.Object({ items: Type.Array(Webhook) }, { title: 'WebhookList' })
