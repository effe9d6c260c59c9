import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { fieldOfAjvError } from '../validation.js'
import { Id } from '../schemas/common.js'
import { ID_PATTERN } from '../domain/ids.js'
import { ClientMessageId, ConversationRef, MessageRef, sendMessageBody, Seq, Version } from '../schemas/conversations.js'
import type { MessageLimits } from '../domain/messages.js'

/**
 * The websocket protocol: every frame is JSON text `{type, ...}`. The client
 * frames form one union keyed on `type`, compiled once per server (their
 * bounds are its configuration's); the server frames are described here too,
 * so the AsyncAPI document and the server cannot drift.
 */

const frame = <K extends string, T extends Record<string, TSchema>>(type: K, props: T, description: string) =>
  Type.Object({ type: Type.Literal(type), ...props }, { additionalProperties: false, title: type, description })

export const clientFrames = (limits: MessageLimits) => ({
  send_message: frame('send_message', {
    conversationId: Id,
    ...sendMessageBody(limits).properties,
    clientMessageId: ClientMessageId
  }, 'Send a message. Answered by message_sent; a resend with the same clientMessageId gets the same answer and creates nothing.'),
  typing: frame('typing', { conversationId: Id, isTyping: Type.Boolean() }, 'Start or stop typing; a start not renewed expires after a few seconds.'),
  delivered: frame('delivered', { conversationId: Id, seq: Seq }, 'Every message up to seq reached this device (watermark).'),
  read: frame('read', { conversationId: Id, seq: Seq }, 'Every message up to seq was read (watermark).'),
  sync: frame('sync', {
    cursors: Type.Optional(Type.Unsafe<Record<string, number>>({
      type: 'object',
      patternProperties: { [ID_PATTERN]: Version },
      additionalProperties: false,
      maxProperties: 10000,
      description: 'conversationId → the highest version this device has seen there (the cursors of the last sync_complete; a device that saw no change may send the highest seq)'
    }))
  }, 'Catches up on everything after the cursors: per conversation, conversation_updated (when its details changed, or it has no cursor), then each message changed after the cursor once, in version order, in its state now (new_message, message_updated or message_deleted); conversation_removed for a conversation left or lost; then sync_complete with the new cursors. Answered in bounded batches: with hasMore, sync again with them.'),
  ping: frame('ping', {}, 'Answered by pong.')
})

type ClientFrames = ReturnType<typeof clientFrames>
export type ClientFrame = { [K in keyof ClientFrames]: Static<ClientFrames[K]> }[keyof ClientFrames]

const ErrorCode = Type.Union(['UNAUTHORIZED', 'VALIDATION_ERROR', 'NOT_FOUND', 'RATE_LIMITED', 'INTERNAL_ERROR', 'UNAVAILABLE'].map((c) => Type.Literal(c)))

export const ServerFrames = {
  new_message: frame('new_message', { message: MessageRef }, 'A new message in one of my conversations (also sent by me from another device).'),
  message_updated: frame('message_updated', { message: MessageRef }, 'A message was edited (live), or changed in any way while I was away (in a sync: its reactions too).'),
  reaction: frame('reaction', {
    conversationId: Id,
    messageId: Id,
    emoji: Type.String(),
    userId: Id,
    added: Type.Boolean({ description: 'true: the user reacted so; false: took it back' }),
    version: Version
  }, 'A reaction was added or removed (to everyone in the conversation, the reactor\'s other devices included); the message is now at `version`.'),
  message_deleted: frame('message_deleted', { conversationId: Id, messageId: Id, seq: Seq, version: Version }, 'A message became a tombstone.'),
  conversation_removed: frame('conversation_removed', { conversationId: Id }, 'In a sync: I left this conversation, or was removed from it, while away (forget it).'),
  conversation_updated: frame('conversation_updated', { conversation: ConversationRef }, 'Created, renamed, or participants changed (a removed user gets it once more, without themself in participantIds). unreadCount is 0 here: keep your own.'),
  presence_update: frame('presence_update', {
    userId: Id,
    status: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    lastSeen: Type.Optional(Type.String({ format: 'date-time' }))
  }, 'A user who shares a conversation with me came online or went offline.'),
  typing: frame('typing', { conversationId: Id, userId: Id, isTyping: Type.Boolean() }, 'Someone else is typing, or stopped.'),
  receipt: frame('receipt', {
    conversationId: Id,
    userId: Id,
    kind: Type.Union([Type.Literal('delivered'), Type.Literal('read')]),
    seq: Seq,
    at: Type.String({ format: 'date-time' })
  }, 'Someone else\'s watermark moved.'),
  message_sent: frame('message_sent', {
    clientMessageId: ClientMessageId,
    messageId: Id,
    conversationId: Id,
    seq: Seq,
    version: Version,
    sentAt: Type.String({ format: 'date-time' })
  }, 'The ack of send_message: the message is stored.'),
  sync_complete: frame('sync_complete', {
    truncated: Type.Array(Id, { description: 'conversations with more changes than this batch replayed (their cursors say how far it went)' }),
    hasMore: Type.Boolean({ description: 'more to replay: send sync again with the cursors learnt' }),
    cursors: Type.Record(Id, Version, { description: 'conversationId → the cursor to send next time, for every conversation this batch covered: everything up to it is in what this device was sent or already had' })
  }, 'The end of a sync batch.'),
  sync_required: frame('sync_required', {
    reason: Type.Union([Type.Literal('broker_recovered')], { description: 'broker_recovered: the link between server nodes was down, so live events from other nodes may have been missed' })
  }, 'Live events may have been missed: send `sync` with your cursors to catch up. No frame was lost from this socket\'s own sends.'),
  pong: frame('pong', {}, 'The answer to ping.'),
  error: frame('error', {
    code: ErrorCode,
    message: Type.String(),
    clientMessageId: Type.Optional(ClientMessageId)
  }, 'A frame was refused; the socket stays open. UNAUTHORIZED: not a participant.')
}

export type ServerFrame = { type: keyof typeof ServerFrames } & Record<string, unknown>

export type ParseResult =
  | { ok: true, frame: ClientFrame }
  | { ok: false, message: string, clientMessageId?: string }

/** Parses and validates one text frame against the union of the client frames; the error names the offending field. */
export function createFrameParser (limits: MessageLimits): (text: string) => ParseResult {
  const frames = clientFrames(limits)
  const ajv = new Ajv({ discriminator: true, strict: false, allErrors: false, coerceTypes: false, removeAdditional: false })
  addFormats.default(ajv)
  const validate = ajv.compile<ClientFrame>({ type: 'object', required: ['type'], oneOf: Object.values(frames), discriminator: { propertyName: 'type' } })
  return (text) => {
    let data: unknown
    try {
      data = JSON.parse(text)
    } catch {
      return { ok: false, message: 'a frame must be JSON text' }
    }
    if (validate(data)) return { ok: true, frame: data }
    const err = validate.errors?.[0]
    const field = fieldOfAjvError(err) ?? ''
    const clientMessageId = typeof (data as { clientMessageId?: unknown })?.clientMessageId === 'string' ? (data as { clientMessageId: string }).clientMessageId : undefined
    const what = err?.keyword === 'additionalProperties'
      ? 'is not an allowed property'
      : err?.keyword === 'discriminator' ? `must be one of ${Object.keys(frames).join(', ')}` : (err?.message ?? 'is invalid')
    return { ok: false, message: `${field === '' ? 'frame' : field} ${what}`, ...(clientMessageId !== undefined && { clientMessageId }) }
  }
}
