import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import multipart from '@fastify/multipart'
import { validationError } from '../../../src/domain/errors.js'
import { refOf, responses } from '../../../src/schemas/common.js'
import { Upload } from '../../../src/schemas/conversations.js'
import { ConversationParams } from './schemas.js'

/**
 * A parser's error as the contract's: @fastify/multipart's own carry their
 * status (413 for its limits, 406 for a body that is not multipart); busboy's
 * (a missing boundary, a cut-off body, a malformed part header) carry none
 * and are the client's malformed body.
 */
function malformed (err: unknown): never {
  if (typeof (err as { statusCode?: unknown }).statusCode === 'number') throw err
  throw validationError(`the multipart body is malformed: ${(err as Error).message}`, { field: 'file' })
}

/** Protected: uploads into a conversation (multipart/form-data, one file part named `file`). */
const attachments: FastifyPluginAsyncTypebox = async (app) => {
  // Here only: no other route takes multipart bodies.
  await app.register(multipart, {
    // One byte over the limit reaches the upload, which refuses it (and removes what was written).
    limits: { fileSize: app.config.ATTACHMENT_MAX_BYTES + 1, files: 1, fields: 5, fieldSize: 1024, parts: 6, headerPairs: 50, fieldNameSize: 100 },
    throwFileSizeLimit: true
  })
  app.addSchema(Upload)

  app.post('/:id/attachments', {
    schema: {
      tags: ['messages'],
      operationId: 'uploadAttachment',
      summary: 'Upload a file',
      description: `A \`multipart/form-data\` body with one file part named \`file\`; participants only. The bytes are stored as they arrive; \`type\` is found in them (a claimed type that disagrees is corrected). Images (JPEG, PNG, WebP, GIF) get a thumbnail (WebP, at most 320 px each way) and their width and height. A send carries it by \`attachments: [{id}]\`; one that no message carries within ATTACHMENT_ORPHAN_TTL_MS is removed. Over ATTACHMENT_MAX_BYTES (${app.config.ATTACHMENT_MAX_BYTES}) or the uploader's ATTACHMENT_QUOTA_BYTES: 413, and nothing of it is kept.`,
      consumes: ['multipart/form-data'],
      params: ConversationParams,
      response: responses({ 201: refOf(Upload) }, 403, 404, 429)
    }
  }, async (request, reply) => {
    const part = await request.file().catch(malformed)
    if (part === undefined) throw validationError('a multipart body with one file part named file', { field: 'file' })
    if (part.fieldname !== 'file') throw validationError(`the file part must be named file, not ${JSON.stringify(part.fieldname.slice(0, 50))}`, { field: 'file' })
    const stream = (async function * () {
      try {
        yield * part.file
      } catch (err) {
        malformed(err)
      }
    })()
    const upload = await app.services.attachments.upload(request.userId, request.params.id, { filename: part.filename, mimetype: part.mimetype, stream, truncated: () => part.file.truncated })
    return reply.code(201).send(upload)
  })
}

export default attachments
