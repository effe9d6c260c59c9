import { Type } from '@sinclair/typebox'
import { refOf } from '../../../src/schemas/common.js'
import { Email, Password, SelfUser, Username } from '../../../src/schemas/users.js'

const RefreshToken = Type.String({ minLength: 1, maxLength: 512, description: 'the opaque refresh token', examples: ['q1V3…'] })

export const RegisterBody = Type.Object({ username: Username, email: Email, password: Password }, { additionalProperties: false })

export const LoginBody = Type.Object({
  login: Type.String({ minLength: 1, maxLength: 254, description: 'username or email', examples: ['ada.lovelace'] }),
  password: Type.String({ minLength: 1, maxLength: 128 })
}, { additionalProperties: false })

export const RefreshBody = Type.Object({ refreshToken: RefreshToken }, { additionalProperties: false })

export const Session = Type.Object({
  user: refOf(SelfUser),
  accessToken: Type.String({ description: 'JWT for `Authorization: Bearer`' }),
  refreshToken: RefreshToken,
  expiresIn: Type.Integer({ description: 'seconds until the access token expires', examples: [900] })
}, { title: 'Session' })
