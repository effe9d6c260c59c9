/** Records as the store keeps them. Ids are 24-hex-digit strings (ObjectId hex) in every adapter. */

export interface UserRecord {
  id: string
  username: string
  usernameLower: string
  email: string
  emailLower: string
  displayName?: string
  avatar?: string
  passwordHash: string
  /** 'user' for people, 'bot' for webhook identities. */
  kind: 'user' | 'bot'
  createdAt: Date
  lastSeen: Date
}

export interface NewUser {
  username: string
  email: string
  displayName?: string
  passwordHash: string
  kind?: 'user' | 'bot'
}

export interface UserPatch {
  displayName?: string | null
  avatar?: string | null
}

export interface RefreshTokenRecord {
  id: string
  userId: string
  familyId: string
  /** The id of the token this one replaced; for a family's first token `root:<its own id>`, so the unique index needs no sparse option. */
  parentId: string
  tokenHash: string
  createdAt: Date
  expiresAt: Date
  rotatedAt?: Date
  revokedAt?: Date
}

export type NewRefreshToken = Omit<RefreshTokenRecord, 'rotatedAt' | 'revokedAt'>
