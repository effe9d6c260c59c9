import { validationError } from './errors.js'

/** Words kept per message for search (the first distinct ones; a longer message is found by these). */
export const MAX_WORDS_PER_MESSAGE = 500

/** Words a query may hold (its phrases' words included). */
export const MAX_QUERY_WORDS = 10

/** A word longer than this is cut to it (the index stays small; a match needs its first 64 characters). */
const MAX_WORD_LENGTH = 64

const segmenter = new Intl.Segmenter('und', { granularity: 'word' })

/** A word as search compares it: case and accents folded (NFKD, combining marks dropped), full-width forms made plain. */
export function normalizeWord (word: string): string {
  return [...word.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()].slice(0, MAX_WORD_LENGTH).join('')
}

/** The words of a text, in order, normalised: ICU's word boundaries, so Chinese and Japanese are split into their words too. */
export function wordsIn (text: string): string[] {
  const out: string[] = []
  for (const s of segmenter.segment(text)) {
    if (!s.isWordLike) continue
    const w = normalizeWord(s.segment)
    if (w !== '') out.push(w)
  }
  return out
}

/** What a message keeps for search: its distinct words, at most MAX_WORDS_PER_MESSAGE. */
export function searchWordsOf (content: string): string[] {
  return [...new Set(wordsIn(content))].slice(0, MAX_WORDS_PER_MESSAGE)
}

export interface SearchQuery {
  /** Every one must be a word of the message (phrases' words included). */
  words: string[]
  /** Each must appear in the message as these words, in this order, next to each other. */
  phrases: string[][]
  /** from:username */
  from?: string
  /** before:YYYY-MM-DD: sent before that day began (UTC). */
  before?: Date
  /** after:YYYY-MM-DD: sent after that day ended (UTC). */
  after?: Date
  hasAttachment: boolean
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/

function dayOf (value: string, op: string): Date {
  const m = DAY.exec(value)
  const date = m === null ? new Date(Number.NaN) : new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))
  if (m === null || Number.isNaN(date.getTime()) || date.getUTCDate() !== Number(m[3])) throw validationError(`${op}: wants a day as YYYY-MM-DD`, { field: 'q' })
  return date
}

/**
 * Parses `q`: words, `"exact phrases"`, `from:username`, `before:YYYY-MM-DD`,
 * `after:YYYY-MM-DD`, `has:attachment`. A query of operators only is
 * allowed; one with nothing to search by, or more than MAX_QUERY_WORDS
 * words, is a VALIDATION_ERROR on `q`.
 */
export function parseSearchQuery (q: string): SearchQuery {
  const query: SearchQuery = { words: [], phrases: [], hasAttachment: false }
  let rest = q.replace(/"([^"]*)"/g, (_, phrase: string) => {
    const words = wordsIn(phrase)
    if (words.length > 0) query.phrases.push(words)
    return ' '
  })
  rest = rest.replace(/(?:^|\s)(from|before|after|has):(\S*)/gi, (_, op: string, value: string) => {
    const name = op.toLowerCase()
    if (name === 'from') {
      if (value === '') throw validationError('from: wants a username', { field: 'q' })
      query.from = value.replace(/^@/, '').toLowerCase()
    } else if (name === 'before') query.before = dayOf(value, 'before')
    else if (name === 'after') query.after = new Date(dayOf(value, 'after').getTime() + 86_400_000)
    else if (value.toLowerCase() === 'attachment') query.hasAttachment = true
    else throw validationError('has: knows only has:attachment', { field: 'q' })
    return ' '
  })
  query.words = [...new Set([...wordsIn(rest), ...query.phrases.flat()])]
  if (query.words.length > MAX_QUERY_WORDS) throw validationError(`at most ${MAX_QUERY_WORDS} words in a query`, { field: 'q' })
  const anything = query.words.length > 0 || query.from !== undefined || query.before !== undefined || query.after !== undefined || query.hasAttachment
  if (!anything) throw validationError('the query has nothing to search by: a word, a "phrase", from:, before:, after: or has:attachment', { field: 'q' })
  return query
}

/** True when `words` (a message's, in order) hold `phrase` as a run. */
export function containsPhrase (words: readonly string[], phrase: readonly string[]): boolean {
  outer: for (let i = 0; i + phrase.length <= words.length; i++) {
    for (let j = 0; j < phrase.length; j++) if (words[i + j] !== phrase[j]) continue outer
    return true
  }
  return false
}
