import type {
  ConversationRecord, LastMessage, MembershipRecord, MessageRecord, NewRefreshToken, NewUser,
  ReactionRecord, RefreshTokenRecord, ThreadSummary, Role, UploadRecord, UserPatch, UserRecord, VersionClaim, WebhookRecord
} from '../domain/types.js'
import type { DuplicateKeyError } from '../domain/errors.js'
import type { DeliveryRecord, EventEndpointRecord, OutboxEventRecord } from '../domain/outgoing.js'

/**
 * The persistence port. Adapters: memory (embedded default) and mongo.
 * Unique-index violations surface as DuplicateKeyError, an unreachable
 * server as DependencyUnavailableError; nothing above this port knows which adapter runs.
 */
export interface Store {
  readonly kind: 'memory' | 'mongo'
  /** Creates indexes; safe to call again. */
  init (): Promise<void>
  /** Resolves when the backing server answers; rejects with the reason otherwise. */
  ping (): Promise<void>
  /**
   * Adds a handler called when the database answers again after an outage
   * (the owner ensures indexes again: the server may have come back empty);
   * returns its remover. The memory store has no outages.
   */
  onRecover (handler: () => void): () => void
  close (): Promise<void>
  users: UserRepository
  refreshTokens: RefreshTokenRepository
  conversations: ConversationRepository
  memberships: MembershipRepository
  messages: MessageRepository
  reactions: ReactionRepository
  webhooks: WebhookRepository
  attachments: AttachmentRepository
  /** The bytes of uploads (GridFS on MongoDB), by id. */
  blobs: BlobRepository
  /** Which keys of encryption at rest have sealed anything still stored. */
  encryptionKeys: EncryptionKeyRepository
  /** Where outgoing events go (the admin API's). */
  eventEndpoints: EventEndpointRepository
  /** Outgoing events, and their deliveries to each endpoint. */
  outbox: OutboxRepository
  /** Bots' owners and API keys (a bot is also a user, of kind 'bot'). */
  bots: BotRepository
}

export interface EventEndpointRepository extends Resealable<EventEndpointRecord> {
  insert (endpoint: EventEndpointRecord): Promise<void>
  findById (id: string): Promise<EventEndpointRecord | null>
  /** Oldest first. */
  list (): Promise<EventEndpointRecord[]>
  /** True when it existed. */
  remove (id: string): Promise<boolean>
}

/**
 * The outbox. An event is recorded by the code path of the change it tells
 * of (after the change, before its answer: a retried request records it
 * again, once); any node then claims it for a while (a lease), writes one
 * delivery per endpoint that wants it, and claims the deliveries that are due.
 * Two nodes claiming one thing at once (possible where updates race) send it
 * twice, never zero times: delivery is at least once. Its scan and reseal
 * are over events.
 */
export interface OutboxRepository extends Resealable<OutboxEventRecord> {
  /** Records each event unless one with its key is recorded already. */
  record (events: ReadonlyArray<Omit<OutboxEventRecord, 'state' | 'leaseUntil'>>): Promise<void>
  /** Events still `new` and not leased at `now`, oldest first, at most `limit`: leased until `leaseUntil`. */
  claimNew (now: Date, leaseUntil: Date, limit: number): Promise<OutboxEventRecord[]>
  /** Its deliveries are written: it is `expanded`. */
  markExpanded (id: string): Promise<void>
  findEvents (ids: readonly string[]): Promise<OutboxEventRecord[]>
  /** Writes each delivery unless the event has one to that endpoint already. */
  addDeliveries (deliveries: readonly DeliveryRecord[]): Promise<void>
  /** Pending deliveries due at `now` and not leased, soonest first, at most `limit`, none to the endpoints in `skipEndpoints`: leased until `leaseUntil`. */
  claimDue (now: Date, leaseUntil: Date, limit: number, skipEndpoints?: readonly string[]): Promise<DeliveryRecord[]>
  /** Claimed but not attempted: free for any node again. */
  release (ids: readonly string[]): Promise<void>
  /** The outcome of an attempt (the lease is dropped). */
  settle (id: string, patch: Pick<DeliveryRecord, 'status' | 'attempts' | 'nextAttemptAt' | 'lastAttemptAt'> & Partial<Pick<DeliveryRecord, 'lastStatusCode' | 'lastError' | 'deliveredAt'>>): Promise<void>
  findDelivery (id: string): Promise<DeliveryRecord | null>
  /** An endpoint's deliveries, newest first, older than `beforeId`, at most `limit`. */
  listDeliveries (endpointId: string, limit: number, beforeId?: string): Promise<DeliveryRecord[]>
  /** Pending again, due at `now`, retried until `expiresAt`; null when there is no such delivery. */
  retry (id: string, now: Date, expiresAt: Date): Promise<DeliveryRecord | null>
  /** Removes deliveries delivered or failed, of events created before `before`, and those events once none of theirs is pending; at most `limit` events a call. Answers how many events went. */
  prune (before: Date, limit: number): Promise<number>
  /** Events not yet expanded plus deliveries pending, and when the oldest of them was created. */
  backlog (): Promise<{ depth: number, oldest?: Date }>
}

export interface BotRecord {
  /** The bot's user id. */
  id: string
  ownerId: string
  /** SHA-256 of its API key's secret part, hex. */
  keyHash: string
  createdAt: Date
  revokedAt?: Date
}

export interface BotRepository {
  insert (bot: BotRecord): Promise<void>
  findById (id: string): Promise<BotRecord | null>
  /** The owner's bots (revoked ones too), oldest first. */
  listByOwner (ownerId: string): Promise<BotRecord[]>
  /** Revoked from `at` on; false when there is no such bot or it was revoked already. */
  revoke (id: string, at: Date): Promise<boolean>
}

export interface EncryptionKeyRepository {
  /** `keyId` seals what is written (it is active): in use from now on. */
  markUsed (keyId: string): Promise<void>
  /** Nothing is left under `keyId` (a rotation found none): it may leave the ring. */
  retire (keyId: string): Promise<void>
  /** Keys marked used and not retired since. */
  inUse (): Promise<string[]>
}

/**
 * What a rotation of encryption keys walks: every record of a repository as
 * stored, page by page by id, and a rewrite of some of its fields (dotted
 * paths) while `guard.field` still holds what was read, so a change made
 * meanwhile is never overwritten (false: it changed).
 */
export interface Resealable<R> {
  scan (afterId: string | undefined, limit: number): Promise<R[]>
  reseal (id: string, guard: { field: string, value: unknown }, set: Record<string, unknown>): Promise<boolean>
}

export interface UserRepository extends Resealable<UserRecord> {
  /** Throws DuplicateKeyError('username' | 'email'). */
  create (user: NewUser): Promise<UserRecord>
  findById (id: string): Promise<UserRecord | null>
  findByIds (ids: readonly string[]): Promise<UserRecord[]>
  /** By lower-cased username or email. */
  findByLogin (loginLower: string): Promise<UserRecord | null>
  /** Users whose lower-cased username starts with `prefixLower`, by username, at most `limit`. */
  searchByUsernamePrefix (prefixLower: string, limit: number): Promise<UserRecord[]>
  update (id: string, patch: UserPatch): Promise<UserRecord | null>
  touchLastSeen (id: string, at: Date): Promise<void>
}

export interface RefreshTokenRepository {
  /** Throws DuplicateKeyError('parentId') when the parent was already rotated into another token. */
  insert (token: NewRefreshToken): Promise<RefreshTokenRecord>
  findByHash (tokenHash: string): Promise<RefreshTokenRecord | null>
  /** Marks the token rotated if it is neither rotated nor revoked; false when it was. */
  markRotated (id: string, at: Date): Promise<boolean>
  /**
   * Revokes the family: first the family itself, with one insert (never lost
   * to a concurrent update, whatever the server), then each of its tokens.
   * Tokens issued into it afterwards are refused too: see isFamilyRevoked.
   */
  revokeFamily (familyId: string, at: Date): Promise<void>
  isFamilyRevoked (familyId: string): Promise<boolean>
}

/** Where a page of conversations starts: after this (updatedAt, id), in descending order. */
export interface ConversationCursor {
  updatedAt: Date
  id: string
}

export interface ConversationRepository extends Resealable<ConversationRecord> {
  /** Throws DuplicateKeyError('directKey') when a conversation with that key exists. */
  insert (conversation: ConversationRecord): Promise<ConversationRecord>
  findById (id: string): Promise<ConversationRecord | null>
  findByDirectKey (directKey: string): Promise<ConversationRecord | null>
  /** How many groups the user created (the per-user cap). */
  countGroupsCreatedBy (userId: string): Promise<number>
  /** The user's conversations, most recent activity first (updatedAt desc, id desc), after the cursor. */
  listForUser (userId: string, limit: number, after?: ConversationCursor): Promise<ConversationRecord[]>
  /**
   * After messages are stored: sets lastMessage, raises lastSeq to its seq and
   * updatedAt, unless a later message is already there (then lastSeq is at
   * least as high already).
   */
  setLastMessage (id: string, lastMessage: LastMessage, updatedAt: Date): Promise<void>
  /** After version claims are stored: raises lastSeq to `seq` unless it is there already. */
  raiseLastSeq (id: string, seq: number): Promise<void>
  /** Replaces lastMessage if it is the message with this id (after an edit or a delete). */
  replaceLastMessage (id: string, lastMessage: LastMessage, updatedAt: Date): Promise<void>
  /** New details at `version` (a claimed one), unless a later version is there already; answers the conversation as it is now. */
  update (id: string, patch: { name?: string, avatar?: string | null }, updatedAt: Date, version: number): Promise<ConversationRecord | null>
  /** Replaces the derived participant list (after membership changes) at `version`, as update does. */
  setParticipants (id: string, participantIds: string[], updatedAt: Date, version: number): Promise<ConversationRecord | null>
}

export interface MembershipRepository {
  /** Inserts the memberships that do not exist yet; answers the user ids that were added. */
  addMany (memberships: MembershipRecord[]): Promise<string[]>
  find (conversationId: string, userId: string): Promise<MembershipRecord | null>
  /** Every member of a conversation, oldest first (joinedAt, then userId). */
  listByConversation (conversationId: string): Promise<MembershipRecord[]>
  /** Every conversation the user is in. */
  conversationIdsOf (userId: string): Promise<string[]>
  /** One user's memberships of the given conversations. */
  listForUser (userId: string, conversationIds: readonly string[]): Promise<MembershipRecord[]>
  /** True when it existed. */
  remove (conversationId: string, userId: string): Promise<boolean>
  /** True when it changed the member; with `from`, only a member who has that role now (a conditional update). */
  setRole (conversationId: string, userId: string, role: Role, from?: Role): Promise<boolean>
  /** Moves the watermarks forward (never back); a read also counts as delivered. */
  advance (conversationId: string, userId: string, kind: 'delivered' | 'read', seq: number, at: Date): Promise<void>
}

export interface MessagePage {
  /** Sorted by seq ascending. */
  items: MessageRecord[]
  hasMore: boolean
}

/** What a timeline holds at each seq: a message, or a version claim. */
export type TimelineEntry = MessageRecord | VersionClaim

export const isClaim = (entry: TimelineEntry): entry is VersionClaim => 'target' in entry

/** Reactions, one record each: adding is an insert under a unique key, so no concurrent reaction is lost on any server. */
export interface ReactionRepository {
  /** True when it is new; false when the user had already reacted so. */
  add (reaction: ReactionRecord): Promise<boolean>
  /** True when it existed. */
  remove (messageId: string, userId: string, emoji: string): Promise<boolean>
  /** The reactions on these messages, oldest first. */
  forMessages (messageIds: readonly string[]): Promise<ReactionRecord[]>
}

/** A message named by its conversation and id (a MessageRecord is one): the conversation is the shard key of messages. */
export interface MessageKey {
  conversationId: string
  id: string
}

export interface MessageRepository extends Resealable<MessageRecord> {
  /**
   * Inserts messages and version claims in order, one seq each, and stops at
   * the first a unique index refuses: answers how many were inserted, and that
   * refusal (DuplicateKeyError 'seq' or 'clientMessageId') for entry number
   * `inserted`. Any other error is thrown, and some entries may have been
   * inserted before it. Claims are never answered by the reads below except claimsSince.
   */
  insertMany (entries: readonly TimelineEntry[]): Promise<{ inserted: number, duplicate?: DuplicateKeyError }>
  /** The message `key` names, if it is in that conversation (the conversation is the shard key: every lookup names it). */
  findById (key: MessageKey): Promise<MessageRecord | null>
  findByClientMessageId (conversationId: string, senderId: string, clientMessageId: string): Promise<MessageRecord | null>
  /**
   * With neither bound: the newest `limit` messages, hasMore when older exist.
   * beforeSeq: the `limit` messages just below it, hasMore when older exist.
   * afterSeq: the `limit` messages just above it, hasMore when newer exist (up to beforeSeq when both are given).
   */
  page (conversationId: string, query: { limit: number, beforeSeq?: number, afterSeq?: number, threadId?: string }): Promise<MessagePage>
  /** Messages after `afterSeq` not sent by `excludeSenderId` and not deleted, counted up to `cap`. */
  countUnread (conversationId: string, afterSeq: number, excludeSenderId: string, cap: number): Promise<number>
  /** Of those, the ones that mention `userId` (or all), up to `cap`. */
  countUnreadMentions (conversationId: string, afterSeq: number, userId: string, cap: number): Promise<number>
  /**
   * Messages of the conversation whose version is above `afterVersion`, by
   * version ascending, at most `limit` (hasMore when more exist): what changed
   * after a sync cursor, each once, in its state now.
   */
  changedSince (conversationId: string, afterVersion: number, limit: number): Promise<{ items: MessageRecord[], hasMore: boolean }>
  /** The highest seq taken in the conversation's timeline, by a message or a claim (0 when none): read from the unique seq index itself. */
  lastSeq (conversationId: string): Promise<number>
  /** The version claims of the conversation with a seq above `afterSeq`, by seq ascending, at most `limit`. */
  claimsSince (conversationId: string, afterSeq: number, limit: number): Promise<VersionClaim[]>
  /** New content (and the mentions and search words found in it; none when left out) at `version`, unless deleted or at that version or later already; answers the message as it is now. */
  edit (key: MessageKey, content: string, editedAt: Date, version: number, mentions?: { ids: string[], all: boolean }, words?: string[]): Promise<MessageRecord | null>
  /** Empties content and attachments and sets deletedAt at `version` (once); answers the message as it is now. */
  tombstone (key: MessageKey, deletedAt: Date, version: number): Promise<MessageRecord | null>
  /** Pins (`pin` set) or unpins (null) a message at `version`, unless it is deleted or at that version or later already. */
  setPin (key: MessageKey, pin: { by: string, at: Date } | null, version: number): Promise<MessageRecord | null>
  /** A conversation's pinned messages, the newest pin first. */
  pinned (conversationId: string, limit: number): Promise<MessageRecord[]>
  /** A thread's replies summed up, from the replies themselves. */
  threadSummary (conversationId: string, rootId: string): Promise<ThreadSummary>
  /** Sets a root's thread summary at `version`, unless it is at that version or later already. */
  setThread (key: MessageKey, thread: ThreadSummary, version: number): Promise<MessageRecord | null>
  /** Sets the excerpt of every quote of a message (its edit, or its deletion: ''); the quoting messages keep their versions. */
  updateQuotes (conversationId: string, quotedId: string, content: string): Promise<void>
  /**
   * Messages of these conversations, not deleted, holding every word of
   * one of `wordSets` (none: any), and matching the rest; newest first (sentAt, then
   * id, descending), after the cursor, at most `limit`.
   */
  search (query: MessageSearch): Promise<MessageRecord[]>
  /** Messages with no search words at all (stored before search existed), not deleted, at most `limit`. */
  unindexed (limit: number): Promise<MessageRecord[]>
  /** Sets a message's search words while it has none and is not deleted (an edit or a deletion meanwhile wins). */
  setWords (key: MessageKey, words: readonly string[]): Promise<void>
  /** Moves a message to `version` (a change kept elsewhere, such as its reactions), unless it is there or later already. */
  touch (key: MessageKey, version: number): Promise<MessageRecord | null>
}

export interface WebhookRepository {
  insert (webhook: WebhookRecord): Promise<WebhookRecord>
  findById (id: string): Promise<WebhookRecord | null>
  listByConversation (conversationId: string): Promise<WebhookRecord[]>
  /** How many webhooks the user created, in every conversation (the per-user cap). */
  countCreatedBy (userId: string): Promise<number>
  /** True when it existed. */
  remove (id: string): Promise<boolean>
}

/** What a sweep or a deletion finds to do: an upload's record, with the state it was found in. */
export interface AttachmentRepository extends Resealable<UploadRecord> {
  insert (record: UploadRecord): Promise<void>
  findById (id: string): Promise<UploadRecord | null>
  findByIds (ids: readonly string[]): Promise<UploadRecord[]>
  /** `uploading` -> `stored`, with what the bytes turned out to be; false when it was not uploading any more. */
  complete (id: string, found: Pick<UploadRecord, 'type' | 'size' | 'sha256' | 'width' | 'height' | 'thumbnail'>): Promise<boolean>
  /**
   * Claims stored uploads for one send (each unclaimed, or claimed by the
   * same send already: a resend); answers the ids it holds now. A condition
   * on each record, so an upload goes to one message at most.
   */
  claim (ids: readonly string[], clientMessageId: string, at: Date): Promise<string[]>
  /** Their message is stored: they point to it. */
  settle (ids: readonly string[], messageId: string): Promise<void>
  /** Marks a message's uploads `deleting`. */
  markDeletingForMessage (messageId: string): Promise<void>
  /** Marks one upload `deleting`, unless it is settled on a message. */
  markDeleting (id: string): Promise<void>
  /** Uploads never claimed and stored before `storedBefore`, and uploads still uploading since before `uploadingBefore`: marked `deleting` (each on that condition); answers how many. */
  markAbandoned (cutoffs: { storedBefore: Date, uploadingBefore: Date }): Promise<number>
  /** Claimed before `claimedBefore` but not settled on a message (the sender's node stopped in between), at most `limit`. */
  unsettled (claimedBefore: Date, limit: number): Promise<UploadRecord[]>
  /** Uploads marked `deleting`, at most `limit`. */
  deleting (limit: number): Promise<UploadRecord[]>
  /** Removes the record (its bytes are gone first). */
  remove (id: string): Promise<void>
  /** The bytes a user's uploads hold, those being deleted aside. */
  usage (userId: string): Promise<number>
  /** True for the first caller of a sweep window (`attachments:<n>`): one node sweeps at a time. Older windows are forgotten. */
  claimSweep (window: number): Promise<boolean>
}

export interface BlobRepository {
  /**
   * Streams `source` in under `id` and answers its length. When the source or
   * the write fails, whatever was written is removed before the error is thrown.
   */
  write (id: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<number>
  /** The bytes of `id`, all of them or from `start` to `end` inclusive (to the last byte without `end`). */
  read (id: string, range?: { start: number, end?: number }): AsyncIterable<Uint8Array>
  /** Removes `id`'s bytes; nothing when there are none. */
  delete (id: string): Promise<void>
}

export interface MessageSearch {
  conversationIds: readonly string[]
  /** Every word of one of these lists (none: any message). One list, but one per key of the ring when words are stored as keyed hashes. */
  wordSets: ReadonlyArray<readonly string[]>
  senderId?: string
  /** Sent before this. */
  before?: Date
  /** Sent at this or later. */
  from?: Date
  hasAttachment: boolean
  /** Older than this (sentAt, id) in the newest-first order. */
  after?: { sentAt: Date, id: string }
  limit: number
}
