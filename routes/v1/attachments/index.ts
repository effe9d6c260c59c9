import { Readable } from 'node:stream'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { contentDisposition, servedInline, type LinkVariant } from '../../../src/domain/attachments.js'
import { responses } from '../../../src/schemas/common.js'
import { Id } from '../../../src/schemas/common.js'

const Params = Type.Object({ id: Id })
const Query = Type.Object({
  expires: Type.Optional(Type.String({ maxLength: 20, description: 'of a signed link: when it expires (Unix seconds)' })),
  signature: Type.Optional(Type.String({ maxLength: 100, description: 'of a signed link: its HMAC' }))
})

// Streams, not serialised: described for the document, typed as anything for the handler.
const Bytes = Type.Unsafe<unknown>({ type: 'string', format: 'binary', description: 'the bytes (all of them, or the range asked for)' })
const Empty = (description: string) => Type.Unsafe<unknown>({ type: 'null', description })

/**
 * The bytes as a stream whose first chunk is already read: bytes that will
 * not decrypt (tampered with, moved) fail here, before the answer starts, as
 * a contract error; a later segment that fails can only cut the download off.
 */
async function started (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Readable> {
  const it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (async function * () { yield * source })()
  const first = await it.next()
  return Readable.from((async function * () {
    if (first.done === true) return
    yield first.value
    for (let next = await it.next(); next.done !== true; next = await it.next()) yield next.value
  })())
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` over `size` bytes: the range, 'unsatisfiable', or undefined (no header, or one we answer whole: several ranges). */
export function parseRange (header: string | undefined, size: number): { start: number, end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null) return header.includes(',') || !header.startsWith('bytes=') ? undefined : 'unsatisfiable'
  const [, from, to] = m as unknown as [string, string, string]
  if (from === '' && to === '') return 'unsatisfiable'
  if (from === '') {
    const n = Number(to)
    if (n === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(from)
  const end = to === '' ? size - 1 : Math.min(Number(to), size - 1)
  if (start >= size || end < start) return 'unsatisfiable'
  return { start, end }
}

/**
 * Downloads. With `expires` and `signature` (a link from a message or an
 * upload): whoever holds it. Without: a participant's bearer token. Outside
 * the authenticated scope for that reason; it authenticates by itself.
 */
const attachmentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.services.attachments
  for (const variant of ['file', 'thumbnail'] as LinkVariant[]) {
    app.get(variant === 'file' ? '/:id' : '/:id/thumbnail', {
      schema: {
        tags: ['messages'],
        operationId: variant === 'file' ? 'downloadAttachment' : 'downloadThumbnail',
        summary: variant === 'file' ? 'Download an upload' : 'Download an image\'s thumbnail',
        description: `${variant === 'file' ? 'The bytes, with their `Content-Type`, `Content-Length`, `ETag` and `Content-Disposition` (`attachment` for every type a browser would run or render as a page: HTML, SVG, XML, JavaScript, PDF, anything unknown; `inline` for images, audio, video and plain text), and `X-Content-Type-Options: nosniff`. `Range` (one range) answers 206, an unsatisfiable one 416; `If-None-Match` with the ETag 304.' : 'The thumbnail (WebP, at most 320 px each way) of an image upload; 404 for an upload without one.'} A signed link (its \`expires\` and \`signature\`) works without a header; without them, a participant's bearer token. A wrong or expired signature: 403; an unknown or removed upload: 404.`,
        security: [{}, { bearerAuth: [] }],
        produces: ['application/octet-stream'],
        params: Params,
        querystring: Query,
        response: responses({ 200: Bytes, 206: Bytes, 304: Empty('not modified (If-None-Match)'), 416: Empty('the range is outside the bytes') }, 401, 403, 404)
      }
    }, async (request, reply) => {
      const { expires, signature } = request.query
      const signed = expires !== undefined || signature !== undefined
      if (!signed) await app.authenticate(request)
      const opened = await service.open(request.params.id, variant, signed ? { signature: { ...(expires !== undefined && { expires }), ...(signature !== undefined && { signature }) } } : { userId: request.userId })
      const { record, size, type } = opened
      const etag = `"${record.sha256}${variant === 'thumbnail' ? '-t' : ''}"`
      reply.header('etag', etag)
      reply.header('accept-ranges', 'bytes')
      reply.header('x-content-type-options', 'nosniff')
      reply.header('cache-control', 'private, max-age=300')
      reply.header('content-disposition', contentDisposition(type, variant === 'thumbnail' ? `${record.name}.webp` : record.name))
      // What the browser must not run, even opened at this address: no scripts, no plugins, its own origin.
      if (!servedInline(type)) reply.header('content-security-policy', "default-src 'none'; sandbox")
      if (request.headers['if-none-match'] === etag) return reply.code(304).send()
      const range = parseRange(request.headers.range, size)
      reply.type(type === 'text/plain' ? 'text/plain; charset=utf-8' : type)
      if (range === 'unsatisfiable') return reply.code(416).header('content-range', `bytes */${size}`).send()
      if (range === undefined) {
        const body = await started(opened.read())
        return reply.header('content-length', String(size)).send(body)
      }
      const body = await started(opened.read(range))
      return reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`).header('content-length', String(range.end - range.start + 1)).send(body)
    })
  }
}

export default attachmentRoutes
