import { Type } from '@sinclair/typebox'
import { DateTime, Id } from './common.js'

export const Username = Type.String({
  minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9_.-]+$',
  description: '3 to 32 letters, digits, `_`, `.` or `-`; unique without regard to case',
  examples: ['ada.lovelace']
})
export const Email = Type.String({ format: 'email', maxLength: 254, description: 'unique without regard to case', examples: ['ada@example.com'] })
export const Password = Type.String({ minLength: 8, maxLength: 128, description: '8 to 128 characters', examples: ['correct horse battery'] })
export const DisplayName = Type.String({ minLength: 1, maxLength: 64, examples: ['Ada Lovelace'] })
export const AvatarUrl = Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048, examples: ['https://example.com/ada.png'] })

export const PublicUser = Type.Object({
  id: Id,
  username: Username,
  displayName: Type.Optional(DisplayName),
  avatar: Type.Optional(AvatarUrl),
  bot: Type.Boolean({ description: 'true for a webhook\'s bot identity' }),
  lastSeen: DateTime,
  createdAt: DateTime
}, { $id: 'PublicUser', title: 'PublicUser' })

export const SelfUser = Type.Object({
  ...PublicUser.properties,
  email: Email
}, { $id: 'SelfUser', title: 'SelfUser' })
