import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import sensible from '@fastify/sensible'
import type { FastifyError } from 'fastify'
import type { ErrorObject } from 'ajv'
import { AppError, DependencyUnavailableError, DuplicateKeyError, ERROR_STATUS, type ErrorCode } from '../src/domain/errors.js'
import { ErrorResponse } from '../src/schemas/common.js'
import { fieldOfAjvError } from '../src/validation.js'

const CODE_BY_STATUS: Record<number, ErrorCode> = Object.fromEntries(
  Object.entries(ERROR_STATUS).map(([code, status]) => [status, code as ErrorCode])
)

interface Mapped {
  statusCode: number
  code: ErrorCode
  message: string
  field?: string
}

function map (err: FastifyError | AppError | Error): Mapped {
  if (err instanceof AppError) {
    return { statusCode: err.statusCode, code: err.code, message: err.message, ...(typeof err.details?.field === 'string' && { field: err.details.field }) }
  }
  if (err instanceof DependencyUnavailableError) {
    return { statusCode: 503, code: 'UNAVAILABLE', message: `the ${err.dependency} is unavailable; retry later` }
  }
  if (err instanceof DuplicateKeyError) {
    return { statusCode: 409, code: 'CONFLICT', message: `${err.field} is taken`, field: err.field }
  }
  const fe = err as FastifyError
  if (fe.validation !== undefined) {
    const field = fieldOfAjvError(fe.validation[0] as ErrorObject | undefined)
    const message = fe.validation[0]?.keyword === 'additionalProperties' && field !== undefined
      ? `${fe.validationContext ?? 'body'}/${field} is not an allowed property`
      : fe.message
    return { statusCode: 400, code: 'VALIDATION_ERROR', message, ...(field !== undefined && { field }) }
  }
  const status = fe.statusCode ?? 500
  if (status === 415) return { statusCode: 400, code: 'VALIDATION_ERROR', message: fe.message }
  if (status >= 400 && status < 500) {
    return { statusCode: CODE_BY_STATUS[status] !== undefined ? status : 400, code: CODE_BY_STATUS[status] ?? 'VALIDATION_ERROR', message: fe.message }
  }
  if (status === 503) return { statusCode: 503, code: 'UNAVAILABLE', message: 'service unavailable; retry later' }
  return { statusCode: 500, code: 'INTERNAL_ERROR', message: 'internal server error' }
}

/**
 * Every error leaves as the contract's `{statusCode, code, error, message}`:
 * domain errors, Fastify's own (validation, body size, bad JSON), JWT and
 * rate-limit errors, and unknown routes. 5xx details are logged, never shown.
 */
export default fp(async (app) => {
  await app.register(sensible)
  app.addSchema(ErrorResponse)

  app.setErrorHandler((err: FastifyError | Error, request, reply) => {
    const mapped = map(err)
    if (err instanceof AppError && typeof err.details?.retryAfterSeconds === 'number') {
      reply.header('retry-after', String(err.details.retryAfterSeconds))
    }
    if (mapped.statusCode >= 500) request.log.error({ err }, 'request failed')
    else request.log.info({ code: mapped.code, msg: mapped.message }, 'request refused')
    return reply.code(mapped.statusCode).send({
      statusCode: mapped.statusCode,
      code: mapped.code,
      error: STATUS_CODES[mapped.statusCode] ?? 'Error',
      message: mapped.message,
      ...(mapped.field !== undefined && { field: mapped.field })
    })
  })

  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: `route ${request.method} ${request.url.split('?')[0]} not found` })
  })
}, { name: 'errors', dependencies: ['config'] })
