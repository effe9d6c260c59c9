import { Ajv, type ErrorObject, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

const common: Options = {
  removeAdditional: false, // unknown fields are refused (additionalProperties: false), never silently dropped
  useDefaults: true,
  allErrors: false,
  strict: false,
  discriminator: true // unions keyed on `type` report the errors of the matching branch
}

/**
 * Request validation with two Ajv instances: bodies are validated strictly,
 * with no type coercion (`{"login": 123}` or `{"login": {"$gt": ""}}` is a 400),
 * while query strings, params and headers, which are text on the wire, are
 * coerced to the schema's types.
 */
export function createValidatorCompiler (): FastifySchemaCompiler<unknown> {
  const strict = new Ajv({ ...common, coerceTypes: false })
  const coercing = new Ajv({ ...common, coerceTypes: 'array' })
  for (const ajv of [strict, coercing]) addFormats.default(ajv)
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object)
}

/** The field an Ajv error is about, as a dotted path (`attachments.0.url`), from its instancePath and params. */
export function fieldOfAjvError (err: ErrorObject | undefined): string | undefined {
  if (err === undefined) return undefined
  const params = err.params as { missingProperty?: string, additionalProperty?: string, tag?: string }
  const path = err.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const leaf = params.missingProperty ?? params.additionalProperty ?? params.tag
  return [path, leaf].filter((p) => p !== undefined && p !== '').join('.') || undefined
}
