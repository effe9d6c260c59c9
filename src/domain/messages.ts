import { validationError } from './errors.js'
import type { ContentType } from './types.js'

export interface MessageLimits {
  maxTextLength: number
  maxAttachments: number
}

const LOCATION = /^\s*(-?\d{1,3}(?:\.\d{1,12})?)\s*,\s*(-?\d{1,3}(?:\.\d{1,12})?)\s*$/

/**
 * Checks content against its type. text: 1..maxTextLength characters, no
 * attachments. image/file: at least one attachment, content an optional
 * caption. location: "<latitude>,<longitude>" within range, no attachments.
 * Throws VALIDATION_ERROR naming the field.
 */
export function validateMessageContent (contentType: ContentType, content: string, attachments: readonly unknown[], limits: MessageLimits): void {
  if ([...content].length > limits.maxTextLength) {
    throw validationError(`content must be at most ${limits.maxTextLength} characters`, { field: 'content' })
  }
  if (attachments.length > limits.maxAttachments) {
    throw validationError(`at most ${limits.maxAttachments} attachments`, { field: 'attachments' })
  }
  switch (contentType) {
    case 'text':
      if (content.trim() === '') throw validationError('content must not be empty for a text message', { field: 'content' })
      if (attachments.length > 0) throw validationError('a text message has no attachments; use contentType image or file', { field: 'attachments' })
      return
    case 'image':
    case 'file':
      if (attachments.length === 0) throw validationError(`an ${contentType} message needs at least one attachment`, { field: 'attachments' })
      return
    case 'location': {
      if (attachments.length > 0) throw validationError('a location message has no attachments', { field: 'attachments' })
      const m = LOCATION.exec(content)
      const lat = Number(m?.[1])
      const lng = Number(m?.[2])
      if (m === null || !(lat >= -90 && lat <= 90) || !(lng >= -180 && lng <= 180)) {
        throw validationError('location content must be "<latitude>,<longitude>" with latitude in [-90, 90] and longitude in [-180, 180]', { field: 'content' })
      }
    }
  }
}
