import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { ID_PATTERN } from '../domain/ids.js'

/** An id: an ObjectId's hex form. */
export const Id = Type.String({ pattern: ID_PATTERN, description: 'an ObjectId in hex form', examples: ['665f1c2ab4d5e6f7a8b9c0d1'] })

/**
 * A reference to a schema registered by its $id (Message, Conversation, …):
 * `$ref` in the documents, the schema's own static type in code.
 */
export const refOf = <T extends TSchema> (schema: T) => Type.Unsafe<Static<T>>(Type.Ref(schema.$id!))

export const DateTime = Type.String({ format: 'date-time', examples: ['2026-11-28T12:00:00.000Z'] })

export const ErrorCodeSchema = Type.Union([
  Type.Literal('VALIDATION_ERROR'), Type.Literal('UNAUTHORIZED'), Type.Literal('FORBIDDEN'),
  Type.Literal('NOT_FOUND'), Type.Literal('CONFLICT'), Type.Literal('PAYLOAD_TOO_LARGE'),
  Type.Literal('RATE_LIMITED'), Type.Literal('INTERNAL_ERROR'), Type.Literal('UNAVAILABLE')
])

/** Every error answer has this shape. */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ examples: [400] }),
  code: ErrorCodeSchema,
  error: Type.String({ examples: ['Bad Request'] }),
  message: Type.String({ examples: ['body/username must match pattern "^[A-Za-z0-9_.-]+$"'] }),
  field: Type.Optional(Type.String({ description: 'the offending field, for validation errors and conflicts', examples: ['username'] }))
}, { $id: 'Error', title: 'Error' })
export type ErrorResponse = Static<typeof ErrorResponse>

const ERROR_DESCRIPTIONS = {
  400: 'VALIDATION_ERROR: the request is malformed; `field` names what is wrong',
  401: 'UNAUTHORIZED: missing, malformed, expired or wrongly signed credentials',
  403: 'FORBIDDEN: authenticated, but not allowed',
  404: 'NOT_FOUND: no such resource',
  409: 'CONFLICT: the resource exists already',
  413: 'PAYLOAD_TOO_LARGE: the body is over the limit',
  429: 'RATE_LIMITED: too many requests; see Retry-After',
  500: 'INTERNAL_ERROR: something failed on our side',
  503: 'UNAVAILABLE: a dependency is down; retry later'
} as const

export type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS

/**
 * Response schemas for a route: the success ones given, plus the contract's
 * error shape for each listed error status (400, 413, 500 and 503 always).
 */
export function responses<S extends Record<number, TSchema>> (success: S, ...errors: ErrorStatus[]) {
  const all = new Set<ErrorStatus>([400, 413, 500, 503, ...errors])
  const errorSchemas = Object.fromEntries([...all].sort().map((status) => [
    status, Type.Ref('Error', { description: ERROR_DESCRIPTIONS[status] })
  ]))
  // Typed as the success schemas: error answers leave through the error handler, not reply.send.
  return { ...success, ...errorSchemas } as unknown as S
}
