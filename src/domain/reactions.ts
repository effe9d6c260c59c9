import { validationError } from './errors.js'
import type { ReactionRecord } from './types.js'

/** Distinct emoji one message may carry, and reactions one user may put on one message. */
export const REACTION_LIMITS = { emojiPerMessage: 20, perUserPerMessage: 10, userIdsShown: 50 } as const

export interface ReactionSummary {
  emoji: string
  count: number
  /** The first reactors, oldest first (at most REACTION_LIMITS.userIdsShown). */
  userIds: string[]
}

const SHORTCODE = /^:[a-z0-9_+-]{1,62}:$/
const PICTOGRAPH = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

/** One emoji (a single grapheme that is a pictograph, flags and skin tones included) or a `:shortcode:` of at most 64 characters. */
export function validateEmoji (emoji: string): void {
  if (SHORTCODE.test(emoji)) return
  const graphemes = [...segmenter.segment(emoji)]
  if (emoji.length <= 32 && graphemes.length === 1 && PICTOGRAPH.test(emoji)) return
  throw validationError('emoji must be one emoji or a :shortcode: of at most 64 characters (a-z, 0-9, _ + -)', { field: 'emoji' })
}

/** A message's reactions by emoji, in the order each emoji was first used. */
export function summarizeReactions (records: readonly ReactionRecord[]): ReactionSummary[] {
  const byEmoji = new Map<string, ReactionSummary>()
  for (const r of [...records].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())) {
    let s = byEmoji.get(r.emoji)
    if (s === undefined) byEmoji.set(r.emoji, s = { emoji: r.emoji, count: 0, userIds: [] })
    s.count++
    if (s.userIds.length < REACTION_LIMITS.userIdsShown) s.userIds.push(r.userId)
  }
  return [...byEmoji.values()]
}
