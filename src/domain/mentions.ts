/** `@username` in a message's content (usernames as register takes them), and `@all`. */
const MENTION = /(?:^|[^\p{L}\p{N}_.@-])@([a-z0-9_][a-z0-9_.-]{0,31})(?![a-z0-9_-])/giu

/** Distinct usernames a message looks at; more are text. */
export const MAX_MENTIONS = 20

export interface Mentions {
  /** Participants mentioned by name (never the sender). */
  ids: string[]
  /** `@all` by an owner or admin of a group. */
  all: boolean
}

/** The lowercased names after `@` in `content`, in order, at most MAX_MENTIONS, `all` included. */
export function mentionedNames (content: string): string[] {
  if (!content.includes('@')) return []
  const names = new Set<string>()
  for (const match of content.matchAll(MENTION)) {
    names.add(match[1]!.toLowerCase().replace(/\.+$/, ''))
    if (names.size >= MAX_MENTIONS) break
  }
  return [...names].filter((n) => n !== '')
}
