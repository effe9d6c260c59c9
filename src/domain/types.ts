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
  /** What the unique email index holds: the lower-cased email, unless given (a keyed hash of it, when encrypted). */
  emailLower?: string
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

export type ConversationType = 'direct' | 'group'
export type Role = 'owner' | 'admin' | 'member'
export type ContentType = 'text' | 'image' | 'file' | 'location'

export interface LastMessage {
  id: string
  seq: number
  content: string
  senderId: string
  sentAt: Date
  /** Left out by records written before it was kept. */
  contentType?: ContentType
  deleted?: boolean
}

export interface ConversationRecord {
  id: string
  type: ConversationType
  name?: string
  avatar?: string
  /** Derived from the memberships, which are the source of truth for who is in. */
  participantIds: string[]
  createdBy: string
  /** The sorted pair of user ids for a direct conversation; `group:<id>` for a group, so the unique index needs no sparse option. */
  directKey: string
  /** The highest number taken in the conversation's timeline: messages' seqs, and the versions that changes took. */
  lastSeq: number
  /** The version of the last change of its details (name, avatar, participants, roles); 0 when none since it was created. */
  version: number
  lastMessage?: LastMessage
  createdAt: Date
  updatedAt: Date
}

export interface MembershipRecord {
  conversationId: string
  userId: string
  role: Role
  joinedAt: Date
  /** Watermarks: every message with seq ≤ deliveredSeq was delivered to this member, ≤ readSeq read. */
  deliveredSeq: number
  readSeq: number
  deliveredAt?: Date
  readAt?: Date
}

/** An attachment that links to bytes kept elsewhere (the client's own URL). */
export interface LinkAttachment {
  url: string
  type: string
  name?: string
  size?: number
}

/** An attachment uploaded to us: a message keeps its description; its URLs are signed each time it is shown. */
export interface UploadedAttachment {
  id: string
  /** Found in the bytes, not the one the client claimed. */
  type: string
  name: string
  size: number
  sha256: string
  width?: number
  height?: number
  /** An image with a thumbnail (WebP, at most THUMBNAIL_SIZE on its longer side). */
  thumbnail?: boolean
}

export type Attachment = LinkAttachment | UploadedAttachment

export const isUploaded = (a: Attachment): a is UploadedAttachment => 'id' in a

/** What a send names: a link, or an upload by its id. */
export type AttachmentInput = LinkAttachment | { id: string }

/**
 * An upload's record. `uploading` while its bytes stream in, `stored` once
 * they are in, `deleting` once it is to go (its message deleted, or never
 * sent within ATTACHMENT_ORPHAN_TTL_MS): the bytes go first, the record last,
 * so a crash at any step leaves a record the sweep finishes.
 */
export interface UploadRecord extends UploadedAttachment {
  conversationId: string
  uploaderId: string
  state: 'uploading' | 'stored' | 'deleting'
  createdAt: Date
  /** The send that takes it (its clientMessageId), set before that message is stored. */
  claim?: { clientMessageId: string, at: Date }
  /** The message that carries it, set once that message is stored. */
  messageId?: string
  /** Where its bytes are (and its thumbnail's, with `.thumbnail`): under its id unless key rotation sealed them again under a new name. */
  blob?: string
}

/** The name an upload's bytes are stored under. */
export const blobOf = (r: Pick<UploadRecord, 'id' | 'blob'>): string => r.blob ?? r.id
/** The name its thumbnail's bytes are stored under. */
export const thumbnailBlobOf = (r: Pick<UploadRecord, 'id' | 'blob'>): string => `${blobOf(r)}.thumbnail`

export interface MessageRecord {
  id: string
  conversationId: string
  seq: number
  senderId: string
  content: string
  contentType: ContentType
  attachments: Attachment[]
  /** Always set: the server fills one in when the client sent none, so its unique index needs no sparse option. */
  clientMessageId: string
  /**
   * The number of its latest change in the conversation's timeline: its seq
   * when created, then the seq its latest edit or deletion claimed (see VersionClaim).
   */
  version: number
  sentAt: Date
  editedAt?: Date
  deletedAt?: Date
  /** Its stored content would not decrypt (tampered with or moved): shown empty, and the failure logged. */
  unreadable?: boolean
  /** Its content's distinct words, normalised for search (set at send and edit; cleared by a deletion). Never shown. */
  words?: string[]
  /** Participants mentioned by `@username` (set at send and edit; cleared by a deletion). */
  mentions?: string[]
  /** `@all` by an owner or admin of a group. */
  mentionsAll?: boolean
  /** The root of the thread it is a reply in. */
  threadId?: string
  /** On a thread's root: its replies, summed up (updated by every reply and every deletion of one). */
  thread?: ThreadSummary
  /** The message it replies to, quoted (kept in step with the original's edits and deletion). */
  replyTo?: Quote
  /** Set while it is pinned (a deletion unpins it). */
  pinnedAt?: Date
  pinnedBy?: string
}

export interface ThreadSummary {
  /** Replies not deleted. */
  replyCount: number
  lastReplyAt?: Date
  lastReplySeq?: number
  /** Who replied (not deleted), sorted by id. */
  participantIds: string[]
}

/** A quoted message: its excerpt is the first QUOTE_LENGTH characters of the original now. */
export interface Quote {
  id: string
  seq: number
  senderId: string
  content: string
}

export const QUOTE_LENGTH = 200

/** The excerpt a quote holds of a message's content (by code points, so no emoji is cut in half). */
export const quoteOf = (content: string): string => [...content].slice(0, QUOTE_LENGTH).join('')

/** One user's reaction with one emoji on one message (a record of its own, so concurrent reactions never overwrite each other). */
export interface ReactionRecord {
  conversationId: string
  messageId: string
  userId: string
  emoji: string
  createdAt: Date
}

/** What a version claim is for: a message's id, or the conversation's details. */
export const CONVERSATION_TARGET = 'conversation'

/**
 * A number of a conversation's timeline taken by a change of something that
 * exists already (an edit or deletion of a message, new details of the
 * conversation): it holds that seq in the timeline's unique index, so no
 * message or other change ever takes it, and the change then carries it as
 * its version. Claims are kept: a number is never handed out twice.
 */
export interface VersionClaim {
  id: string
  conversationId: string
  seq: number
  /** The message id, or CONVERSATION_TARGET. */
  target: string
  claimedAt: Date
}

export interface WebhookRecord {
  id: string
  conversationId: string
  name: string
  tokenHash: string
  /** The user (kind 'bot') that the webhook's messages are sent as. */
  botUserId: string
  createdBy: string
  createdAt: Date
}
