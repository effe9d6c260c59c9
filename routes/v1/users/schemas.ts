import { Type } from '@sinclair/typebox'
import { Id, refOf } from '../../../src/schemas/common.js'
import { AvatarUrl, DisplayName, PublicUser } from '../../../src/schemas/users.js'
import { USER_SEARCH_MAX } from '../../../src/services/users.js'

export const UpdateMeBody = Type.Object({
  displayName: Type.Optional(Type.Union([DisplayName, Type.Null()], { description: 'null clears it' })),
  avatar: Type.Optional(Type.Union([AvatarUrl, Type.Null()], { description: 'null clears it' }))
}, { additionalProperties: false, minProperties: 1 })

export const SearchQuery = Type.Object({
  query: Type.String({ minLength: 1, maxLength: 32, description: 'a username prefix, matched without regard to case', examples: ['ada'] }),
  limit: Type.Integer({ minimum: 1, maximum: USER_SEARCH_MAX, default: 20 })
}, { additionalProperties: false })

export const UserParams = Type.Object({ id: Id })

export const UserList = Type.Object({ items: Type.Array(refOf(PublicUser)) }, { title: 'UserList' })
