import type { UserRecord } from './types.js'

/** What anyone signed in may see of a user: never the email or the password hash. */
export interface PublicUser {
  id: string
  username: string
  displayName?: string
  avatar?: string
  bot: boolean
  lastSeen: string
  createdAt: string
}

/** What a user sees of themself. */
export interface SelfUser extends PublicUser {
  email: string
}

export function toPublicUser (u: UserRecord): PublicUser {
  return {
    id: u.id,
    username: u.username,
    ...(u.displayName !== undefined && { displayName: u.displayName }),
    ...(u.avatar !== undefined && { avatar: u.avatar }),
    bot: u.kind === 'bot',
    lastSeen: u.lastSeen.toISOString(),
    createdAt: u.createdAt.toISOString()
  }
}

export function toSelfUser (u: UserRecord): SelfUser {
  return { ...toPublicUser(u), email: u.email }
}

/** The usernames and emails of webhooks' bot users (and the emails of bots'): nobody registers one (it would pass for a bot). */
export const botIdentity = {
  username: (id: string) => `wh.${id}`,
  email: (id: string) => `${id}@webhooks.invalid`,
  /** The field of a registration that takes a bot's name or address, if any. */
  reservedField: (username: string, email: string): 'username' | 'email' | undefined =>
    username.toLowerCase().startsWith('wh.') ? 'username' : /@(webhooks|bots)\.invalid$/.test(email.toLowerCase()) ? 'email' : undefined
}
