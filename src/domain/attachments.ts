import { createHmac, timingSafeEqual } from 'node:crypto'
import { fileTypeFromBuffer } from 'file-type'
import { isUploaded, type Attachment, type UploadedAttachment } from './types.js'

/** A thumbnail fits in this many pixels each way (WebP, never enlarged). */
export const THUMBNAIL_SIZE = 320

/** Bytes looked at to tell a file's type (file-type's own reasonable sample). */
export const SNIFF_BYTES = 4100

/** Types that get a thumbnail. */
export const THUMBNAIL_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif'])

/**
 * Types a browser may show inline (it neither runs nor interprets them as a
 * page). Anything else is served as a download (`Content-Disposition:
 * attachment`): HTML, SVG, XML, JavaScript, PDF and every unknown type.
 */
const INLINE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'image/bmp', 'video/mp4', 'video/webm', 'audio/mpeg', 'audio/ogg', 'audio/wav', 'audio/webm', 'text/plain'])

export const servedInline = (type: string): boolean => INLINE_TYPES.has(type)

/** Text types a client may name for bytes that carry no signature of their own; others' claims are not taken. */
const CLAIMABLE_TEXT = new Set(['text/plain', 'text/csv', 'text/markdown', 'application/json', 'text/javascript', 'application/javascript', 'text/css'])

const MARKUP: Array<[RegExp, string]> = [
  [/^\s*<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<script[\s>]|<iframe[\s>]/i, 'text/html'],
  [/<svg[\s>]/i, 'image/svg+xml'],
  [/^\s*<\?xml\s/i, 'application/xml']
]

/**
 * The MIME type of an upload, from its first bytes: the signature of a
 * binary format (file-type); else markup a browser would render (HTML, SVG,
 * XML, whatever was claimed); else, for text, the claimed text type if it is
 * one we take, or text/plain; else application/octet-stream.
 */
export async function sniffType (head: Uint8Array, claimed: string | undefined): Promise<string> {
  const found = await fileTypeFromBuffer(head)
  if (found !== undefined) return found.mime
  if (head.length === 0) return 'application/octet-stream'
  if (head.includes(0)) return 'application/octet-stream'
  const text = Buffer.from(head).toString('utf8')
  for (const [pattern, type] of MARKUP) if (pattern.test(text)) return type
  const declared = claimed?.split(';')[0]?.trim().toLowerCase()
  return declared !== undefined && CLAIMABLE_TEXT.has(declared) ? declared : 'text/plain'
}

/** A file name as a header carries it: the basename, no control characters, at most 255 characters. */
export function cleanFileName (name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? ''
  // eslint-disable-next-line no-control-regex
  const clean = [...base.replace(/[\u0000-\u001f\u007f"]/g, '').trim()].slice(0, 255).join('')
  return clean === '' ? 'file' : clean
}

/** `Content-Disposition` for a download: RFC 6266, with an ASCII fallback and the UTF-8 name. */
export function contentDisposition (type: string, name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/[\\%]/g, '_')
  return `${servedInline(type) ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}

/** What a signed link opens: an upload's bytes or its thumbnail. */
export type LinkVariant = 'file' | 'thumbnail'

export type LinkCheck = 'ok' | 'expired' | 'bad'

/** An attachment as clients see it (the Message schema's attachment): links signed now. */
export interface AttachmentView {
  url: string
  type: string
  name?: string
  size?: number
  id?: string
  sha256?: string
  thumbnailUrl?: string
  width?: number
  height?: number
}

export interface AttachmentLinks {
  /** The path of an upload's bytes (or thumbnail), signed to expire: `?expires=<unix s>&signature=<base64url>`. */
  signed (id: string, variant: LinkVariant): string
  check (id: string, variant: LinkVariant, expires: string | undefined, signature: string | undefined): LinkCheck
  view (attachment: Attachment): AttachmentView
  views (attachments: readonly Attachment[]): AttachmentView[]
}

/** Links are signed into steps of this many seconds, so one upload's URL stays the same for a while (caches keep it). */
const EXPIRY_STEP_SECONDS = 300

export const attachmentPath = (id: string, variant: LinkVariant) => `/v1/attachments/${id}${variant === 'thumbnail' ? '/thumbnail' : ''}`

/**
 * Signed, expiring links: an HMAC-SHA256 over the variant, the id and the
 * expiry with the server's key (every node has it), so an `<img src>` works
 * without a header and a link cannot be moved to another upload or extended.
 * On `base` (PUBLIC_URL) when it is set; a path otherwise.
 */
export function createAttachmentLinks (key: Buffer, ttlSeconds: number, base = '', now: () => number = Date.now): AttachmentLinks {
  const mac = (id: string, variant: LinkVariant, expires: number) => createHmac('sha256', key).update(`${variant}\n${id}\n${expires}`).digest()
  const signed = (id: string, variant: LinkVariant) => {
    const expires = Math.ceil((now() / 1000 + ttlSeconds) / EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS
    return `${base}${attachmentPath(id, variant)}?expires=${expires}&signature=${mac(id, variant, expires).toString('base64url')}`
  }
  const view = (a: Attachment): AttachmentView => {
    if (!isUploaded(a)) return { ...a }
    const u: UploadedAttachment = a
    return {
      id: u.id,
      url: signed(u.id, 'file'),
      type: u.type,
      name: u.name,
      size: u.size,
      sha256: u.sha256,
      ...(u.thumbnail === true && { thumbnailUrl: signed(u.id, 'thumbnail') }),
      ...(u.width !== undefined && { width: u.width }),
      ...(u.height !== undefined && { height: u.height })
    }
  }
  return {
    signed,
    check (id, variant, expires, signature) {
      if (expires === undefined || signature === undefined || !/^\d{1,12}$/.test(expires)) return 'bad'
      const given = Buffer.from(signature, 'base64url')
      const wanted = mac(id, variant, Number(expires))
      if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return 'bad'
      return Number(expires) * 1000 < now() ? 'expired' : 'ok'
    },
    view,
    views: (attachments) => attachments.map(view)
  }
}
