/**
 * The demo web client, on the SDK in client/. No framework: the DOM is built
 * with createElement and textContent, so message text is always text.
 */
import { ApiError, ChatClient, type Conversation, type LiveMessage, type Message, type PublicUser, type SelfUser, type Tokens, type Upload } from '../../client/src/index.js'

const TOKENS_KEY = 'chat-demo-tokens'
const PAGE = 30

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T

/** An element with a class and text (never HTML). */
function h<K extends keyof HTMLElementTagNameMap> (tag: K, className = '', text?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (className !== '') el.className = className
  if (text !== undefined) el.textContent = text
  return el
}

const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

interface ConversationView {
  conversation: Conversation
  /** Loaded messages by seq. */
  messages: Map<number, Message | LiveMessage>
  hasOlder: boolean
  loaded: boolean
  /** Watermarks of the other participants. */
  delivered: Map<string, number>
  read: Map<string, number>
  typing: Map<string, ReturnType<typeof setTimeout>>
  /** My role here (from the participants, once opened). */
  myRole?: string
  /** Pinned messages, the newest pin first. */
  pins: Array<Message | LiveMessage>
}

let client: ChatClient
let me: SelfUser
const users = new Map<string, PublicUser>()
const online = new Map<string, boolean>()
const views = new Map<string, ConversationView>()
let current: string | undefined
let loadingOlder = false
let typingSentAt = 0
/** The message the composer replies to, if any. */
let replyingTo: Message | LiveMessage | undefined

/** The thread open beside the conversation: its root and its replies by seq. */
interface ThreadView {
  conversationId: string
  rootId: string
  root?: Message | LiveMessage
  replies: Map<number, Message | LiveMessage>
  hasOlder: boolean
}
let thread: ThreadView | undefined

/** Files attached to the composer: uploading (with their progress) or uploaded, to go with the next send. */
interface PendingUpload { name: string, conversationId: string, sent: number, total: number, done?: Upload, failed?: string }
let pendingUploads: PendingUpload[] = []

function saveTokens (tokens: Tokens | null) {
  if (tokens === null) localStorage.removeItem(TOKENS_KEY)
  else localStorage.setItem(TOKENS_KEY, JSON.stringify(tokens))
}

function newClient (tokens?: Tokens) {
  client = new ChatClient({ baseUrl: '', ...(tokens && { tokens }), onTokens: saveTokens })
  client.live.on('state', (state) => {
    const conn = $('conn')
    conn.dataset.state = state
    conn.textContent = state === 'open' ? 'connected' : state === 'closed' ? 'disconnected' : state === 'suspended' ? 'offline: waiting for the network…' : 'reconnecting…'
  })
  client.live.on('message', (m) => onMessage(m))
  client.live.on('updated', (m) => onUpdated(m))
  client.live.on('deleted', (d) => {
    const view = views.get(d.conversationId)
    const m = view?.messages.get(d.seq) ?? threadMessages(d.conversationId).find((x) => x.seq === d.seq)
    if (view !== undefined && m !== undefined) onUpdated({ ...m, content: '', attachments: [], version: d.version, deletedAt: new Date().toISOString() })
  })
  client.live.on('reaction', (r) => onReaction(r.conversationId, r.messageId, r.emoji, r.userId, r.added, r.version))
  client.live.on('typing', (e) => onTyping(e.conversationId, e.userId, e.isTyping))
  client.live.on('receipt', (r) => {
    const view = views.get(r.conversationId)
    if (view === undefined) return
    const marks = r.kind === 'read' ? view.read : view.delivered
    marks.set(r.userId, Math.max(marks.get(r.userId) ?? 0, r.seq))
    if (r.kind === 'read') view.delivered.set(r.userId, Math.max(view.delivered.get(r.userId) ?? 0, r.seq))
    if (r.conversationId === current) renderTicks(view)
  })
  client.live.on('presence', (p) => {
    online.set(p.userId, p.status === 'online')
    renderList()
    renderHeader()
  })
  client.live.on('conversation', (c) => { void onConversation(c.id) })
  // Left or removed while away (told by the sync on reconnect): asking again takes it off the list.
  client.live.on('removed', (r) => { void onConversation(r.conversationId) })
  // A device that goes offline drops its socket at once and comes back at once.
  window.addEventListener('offline', () => client.live.suspend())
  window.addEventListener('online', () => client.live.resume())
}

// ---- auth ----

let registering = false
function showAuth () {
  $('auth').hidden = false
  $('app').hidden = true
}

function setAuthMode (register: boolean) {
  registering = register
  $('tab-login').classList.toggle('active', !register)
  $('tab-register').classList.toggle('active', register)
  $('email-row').hidden = !register
  $<HTMLInputElement>('auth-email').required = register
  $('auth-submit').textContent = register ? 'Create account' : 'Log in'
}

async function submitAuth (ev: SubmitEvent) {
  ev.preventDefault()
  const username = $<HTMLInputElement>('auth-username').value.trim()
  const password = $<HTMLInputElement>('auth-password').value
  $('auth-error').textContent = ''
  try {
    newClient()
    const session = registering
      ? await client.rest.register({ username, email: $<HTMLInputElement>('auth-email').value.trim(), password })
      : await client.rest.login({ login: username, password })
    await start(session.user)
  } catch (err) {
    $('auth-error').textContent = err instanceof Error ? err.message : String(err)
  }
}

// ---- conversations ----

function peerOf (c: Conversation): string | undefined {
  return c.type === 'direct' ? c.participantIds.find((id) => id !== me.id) : undefined
}

function titleOf (c: Conversation): string {
  if (c.type === 'group') return c.name ?? 'group'
  const peer = peerOf(c)
  return peer === undefined ? 'me' : users.get(peer)?.username ?? '…'
}

async function knowUsers (ids: string[]) {
  const missing = [...new Set(ids)].filter((id) => !users.has(id) && id !== me.id)
  await Promise.all(missing.map(async (id) => { users.set(id, await client.rest.user(id)) }))
  const peers = [...new Set([...views.values()].flatMap((v) => v.conversation.participantIds))].filter((id) => id !== me.id)
  for (const p of await client.rest.presence(peers)) online.set(p.userId, p.status === 'online')
}

function viewFor (c: Conversation): ConversationView {
  let view = views.get(c.id)
  if (view === undefined) {
    view = { conversation: c, messages: new Map(), hasOlder: true, loaded: false, delivered: new Map(), read: new Map(), typing: new Map(), pins: [] }
    views.set(c.id, view)
    client.live.track(c.id, c.lastSeq)
  } else if (c.lastSeq >= view.conversation.lastSeq) {
    view.conversation = c
  } else {
    // An answer older than a message this device already has: its counts and last message are behind.
    const { lastSeq, lastMessage, unreadCount, unreadMentionCount } = view.conversation
    view.conversation = { ...c, lastSeq, unreadCount, unreadMentionCount, ...(lastMessage !== undefined && { lastMessage }) }
  }
  return view
}

async function loadConversations () {
  let cursor: string | undefined
  do {
    const page = await client.rest.conversations({ limit: 100, ...(cursor !== undefined && { cursor }) })
    for (const c of page.items) viewFor(c)
    cursor = page.nextCursor ?? undefined
  } while (cursor !== undefined)
  await knowUsers([...views.values()].flatMap((v) => v.conversation.participantIds))
  renderList()
}

async function onConversation (id: string) {
  try {
    const c = await client.rest.conversation(id)
    viewFor(c)
    await knowUsers(c.participantIds)
  } catch (err) {
    // No longer a participant: it goes from the list.
    if (err instanceof ApiError && (err.statusCode === 403 || err.statusCode === 404)) {
      views.delete(id)
      if (current === id) current = undefined
    }
  }
  renderList()
  renderHeader()
}

function previewOf (last: NonNullable<Conversation['lastMessage']>): string {
  if (last.deleted === true || (last.content === '' && last.contentType === undefined)) return '(deleted)'
  if (last.content !== '') return last.content
  return last.contentType === 'image' ? '📷 image' : last.contentType === 'file' ? '📄 file' : ''
}

function renderList () {
  const list = $('conversations')
  const sorted = [...views.values()].sort((a, b) => (b.conversation.lastMessage?.sentAt ?? b.conversation.updatedAt).localeCompare(a.conversation.lastMessage?.sentAt ?? a.conversation.updatedAt))
  list.replaceChildren(...sorted.map(({ conversation: c }) => {
    const li = h('li', `conversation${c.id === current ? ' active' : ''}`)
    li.dataset.id = c.id
    const peer = peerOf(c)
    const dot = h('span', `dot${c.type === 'group' ? ' group' : online.get(peer ?? '') === true ? ' online' : ''}`)
    dot.title = c.type === 'group' ? '' : online.get(peer ?? '') === true ? 'online' : 'offline'
    const title = h('span', 'title', titleOf(c))
    const badge = h('span', 'badge', c.unreadCount > 0 ? String(c.unreadCount) : '')
    badge.hidden = c.unreadCount === 0 || c.id === current
    const mentioned = h('span', 'badge mention', '@')
    mentioned.title = `${c.unreadMentionCount} unread mention${c.unreadMentionCount === 1 ? '' : 's'}`
    mentioned.hidden = c.unreadMentionCount === 0 || c.id === current
    const last = c.lastMessage
    const preview = h('span', 'preview', last === undefined ? 'no messages yet' : `${last.senderId === me.id ? 'you: ' : ''}${previewOf(last)}`)
    li.append(dot, title, badge, mentioned, preview)
    li.addEventListener('click', () => { void open(c.id) })
    return li
  }))
}

function renderHeader () {
  const view = current === undefined ? undefined : views.get(current)
  $('chat-title').textContent = view === undefined ? 'Pick a conversation' : titleOf(view.conversation)
  $('composer').hidden = view === undefined
  const typers = view === undefined ? [] : [...view.typing.keys()].map((id) => users.get(id)?.username ?? 'someone')
  $('typing').textContent = typers.length === 0 ? '' : `${typers.join(', ')} ${typers.length === 1 ? 'is' : 'are'} typing…`
}

// ---- messages ----

function ticksOf (view: ConversationView, m: Message | LiveMessage): { text: string, read: boolean } {
  const others = view.conversation.participantIds.filter((id) => id !== me.id)
  if (others.length === 0) return { text: '✓', read: false }
  const read = others.every((id) => (view.read.get(id) ?? 0) >= m.seq)
  const delivered = others.every((id) => (view.delivered.get(id) ?? 0) >= m.seq)
  return { text: read ? '✓✓ read' : delivered ? '✓✓' : '✓', read }
}

function messageElement (view: ConversationView, m: Message | LiveMessage, inThread = false): HTMLLIElement {
  const mine = m.senderId === me.id
  const mentionsMe = m.mentionsAll === true || m.mentions.includes(me.id)
  const li = h('li', `message${mine ? ' mine' : ''}${m.deletedAt !== undefined ? ' deleted' : ''}${mentionsMe ? ' mentions-me' : ''}`)
  li.dataset.seq = String(m.seq)
  li.dataset.id = m.id
  if (view.conversation.type === 'group' && !mine) {
    const sender = users.get(m.senderId)
    const from = h('div', 'from', sender?.username ?? '…')
    // Bots (API bots and webhooks' bots) are marked, so nobody takes one for a person.
    if (sender?.bot === true) from.append(h('span', 'bot-tag', 'bot'))
    li.append(from)
  }
  if (m.replyTo !== undefined) {
    const q = m.replyTo
    li.append(h('div', 'quote', `${users.get(q.senderId)?.username ?? '…'}: ${q.content === '' ? 'message deleted' : q.content}`))
  }
  if (m.deletedAt === undefined && m.attachments.length > 0) li.append(attachmentsElement(m.attachments))
  li.append(h('div', 'text', m.deletedAt !== undefined ? 'message deleted' : m.content))
  const meta = h('div', 'meta', `${time(m.sentAt)}${m.editedAt !== undefined && m.deletedAt === undefined ? ' · edited' : ''}`)
  if (mine && m.deletedAt === undefined) {
    const ticks = ticksOf(view, m)
    meta.append(h('span', `ticks${ticks.read ? ' read' : ''}`, ticks.text))
    const edit = h('button', 'link edit', 'edit')
    edit.type = 'button'
    edit.addEventListener('click', () => startEdit(view, m, li))
    const del = h('button', 'link delete', 'delete')
    del.type = 'button'
    del.addEventListener('click', () => { void client.rest.deleteMessage(view.conversation.id, m.id).catch(showError) })
    meta.append(edit, del)
  }
  if (m.deletedAt === undefined && (view.conversation.type === 'direct' || view.myRole === 'owner' || view.myRole === 'admin')) {
    const pinned = m.pinnedAt !== undefined
    const pin = h('button', `link ${pinned ? 'unpin' : 'pin'}`, pinned ? 'unpin' : 'pin')
    pin.type = 'button'
    pin.addEventListener('click', () => {
      // The message_updated that follows (to this device too) moves the pinned bar.
      void (pinned ? client.rest.unpin(view.conversation.id, m.id) : client.rest.pin(view.conversation.id, m.id)).catch(showError)
    })
    meta.append(pin)
  }
  if (m.deletedAt === undefined && !inThread) {
    const reply = h('button', 'link reply', 'reply')
    reply.type = 'button'
    reply.addEventListener('click', () => startReply(m))
    meta.append(reply)
    if (m.threadId === undefined) {
      const inThreadButton = h('button', 'link thread', 'thread')
      inThreadButton.type = 'button'
      inThreadButton.addEventListener('click', () => { void openThread(view.conversation.id, m) })
      meta.append(inThreadButton)
    }
  }
  if (m.deletedAt === undefined) {
    const react = h('button', 'link react', 'react')
    react.type = 'button'
    react.addEventListener('click', () => togglePicker(view, m, li))
    meta.append(react)
  }
  li.append(meta)
  if (m.deletedAt === undefined && m.reactions.length > 0) {
    const row = h('div', 'reactions')
    for (const r of m.reactions) {
      const mineToo = r.userIds.includes(me.id)
      const chip = h('button', `reaction${mineToo ? ' mine' : ''}`, `${r.emoji} ${r.count}`)
      chip.type = 'button'
      chip.dataset.emoji = r.emoji
      chip.title = r.userIds.map((id) => users.get(id)?.username ?? '…').join(', ')
      chip.addEventListener('click', () => react(view, m, r.emoji, !mineToo))
      row.append(chip)
    }
    li.append(row)
  }
  if (!inThread && m.thread !== undefined && m.thread.replyCount > 0) {
    const n = m.thread.replyCount
    const summary = h('button', 'link thread-summary', `${n} ${n === 1 ? 'reply' : 'replies'}${m.thread.lastReplyAt === undefined ? '' : ` · last ${time(m.thread.lastReplyAt)}`}`)
    summary.type = 'button'
    summary.addEventListener('click', () => { void openThread(view.conversation.id, m) })
    li.append(summary)
  }
  return li
}

const sizeOf = (n: number) => n < 1024 ? `${n} B` : n < 1048576 ? `${Math.round(n / 102.4) / 10} KB` : `${Math.round(n / 104857.6) / 10} MB`

/** A message's files: a thumbnail that opens the image, or a link that opens (or downloads) the file. */
function attachmentsElement (attachments: Message['attachments']): HTMLDivElement {
  const box = h('div', 'attachments')
  for (const a of attachments) {
    const link = h('a', a.thumbnailUrl !== undefined ? 'image' : 'file')
    link.href = client.rest.urlOf(a.url)
    link.target = '_blank'
    link.rel = 'noopener noreferrer'
    if (a.thumbnailUrl !== undefined) {
      const img = h('img', 'thumb')
      img.src = client.rest.urlOf(a.thumbnailUrl)
      img.alt = a.name ?? 'image'
      if (a.width !== undefined && a.height !== undefined) {
        const scale = Math.min(1, 320 / Math.max(a.width, a.height))
        img.width = Math.round(a.width * scale)
        img.height = Math.round(a.height * scale)
      }
      link.append(img)
    } else {
      link.textContent = `📄 ${a.name ?? a.url}${a.size !== undefined ? ` (${sizeOf(a.size)})` : ''}`
    }
    box.append(link)
  }
  return box
}

/** Uploads files into the open conversation at once; the next send carries those that are done. */
function attachFiles (files: Iterable<File>) {
  const view = current === undefined ? undefined : views.get(current)
  if (view === undefined) return
  for (const file of files) {
    const entry: PendingUpload = { name: file.name === '' ? 'pasted image' : file.name, conversationId: view.conversation.id, sent: 0, total: file.size }
    pendingUploads.push(entry)
    void client.rest.upload(view.conversation.id, file, { name: entry.name, onProgress: (sent, total) => { entry.sent = sent; entry.total = total; renderUploads() } })
      .then((done) => { entry.done = done }, (err: unknown) => { entry.failed = err instanceof Error ? err.message : String(err) })
      .finally(renderUploads)
  }
  renderUploads()
}

/** The bar over the composer: each attached file, its progress or failure, and a way to take it off. */
function renderUploads () {
  const bar = $('uploads')
  const mine = pendingUploads.filter((u) => u.conversationId === current)
  bar.hidden = mine.length === 0
  bar.replaceChildren(...mine.map((u) => {
    const chip = h('span', `upload${u.done !== undefined ? ' done' : u.failed !== undefined ? ' failed' : ''}`)
    const state = u.done !== undefined ? sizeOf(u.done.size) : u.failed !== undefined ? `failed: ${u.failed}` : `${u.total === 0 ? 0 : Math.floor((u.sent / u.total) * 100)}%`
    chip.append(h('span', 'name', u.name), h('span', 'state', ` ${state}`))
    const remove = h('button', 'link', '✕')
    remove.type = 'button'
    remove.title = 'take it off'
    remove.addEventListener('click', () => { pendingUploads = pendingUploads.filter((x) => x !== u); renderUploads() })
    chip.append(remove)
    return chip
  }))
  $<HTMLButtonElement>('send').disabled = mine.some((u) => u.done === undefined && u.failed === undefined)
}

function startReply (m: Message | LiveMessage | undefined) {
  replyingTo = m
  $('replying').hidden = m === undefined
  $('replying-text').textContent = m === undefined ? '' : `replying to ${users.get(m.senderId)?.username ?? '…'}: ${[...m.content].slice(0, 80).join('')}`
  if (m !== undefined) $<HTMLTextAreaElement>('composer-input').focus()
}

const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '👀']

function react (view: ConversationView, m: Message | LiveMessage, emoji: string, add: boolean) {
  const call = add ? client.rest.addReaction(view.conversation.id, m.id, emoji) : client.rest.removeReaction(view.conversation.id, m.id, emoji)
  // The reaction frame (this device's too) updates the message.
  void call.catch(showError)
}

function togglePicker (view: ConversationView, m: Message | LiveMessage, li: HTMLLIElement) {
  const open = li.querySelector('.picker')
  if (open !== null) { open.remove(); return }
  const picker = h('div', 'picker')
  for (const emoji of QUICK_REACTIONS) {
    const b = h('button', 'pick', emoji)
    b.type = 'button'
    b.addEventListener('click', () => { picker.remove(); react(view, m, emoji, true) })
    picker.append(b)
  }
  li.append(picker)
}

/** A reaction frame: applied to the message as a set (userIds shows the first 50 only, so the count moves regardless). */
function onReaction (conversationId: string, messageId: string, emoji: string, userId: string, added: boolean, version: number) {
  const view = views.get(conversationId)
  const m = view === undefined ? undefined : [...view.messages.values(), ...threadMessages(conversationId)].find((x) => x.id === messageId)
  if (view === undefined || m === undefined) return
  const reactions = m.reactions.map((r) => ({ ...r, userIds: [...r.userIds] }))
  const entry = reactions.find((r) => r.emoji === emoji)
  if (added && entry === undefined) reactions.push({ emoji, count: 1, userIds: [userId] })
  else if (added && entry !== undefined) {
    entry.count++
    if (entry.userIds.length < 50 && !entry.userIds.includes(userId)) entry.userIds.push(userId)
  } else if (entry !== undefined) {
    entry.count--
    entry.userIds = entry.userIds.filter((id) => id !== userId)
  }
  const next = { ...m, version, reactions: reactions.filter((r) => r.count > 0) }
  if (view.messages.has(m.seq)) view.messages.set(m.seq, next)
  intoThread(next)
  if (conversationId === current) renderMessages(true)
}

function startEdit (view: ConversationView, m: Message | LiveMessage, li: HTMLLIElement) {
  const input = h('input', 'edit-input')
  input.value = m.content
  li.querySelector('.text')!.replaceChildren(input)
  input.focus()
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { renderMessages(); renderThread() }
    if (ev.key !== 'Enter') return
    ev.preventDefault()
    void client.rest.editMessage(view.conversation.id, m.id, input.value).then(onUpdated, showError)
  })
}

function renderMessages (keepScroll = false) {
  const list = $('messages')
  const view = current === undefined ? undefined : views.get(current)
  if (view === undefined) { list.replaceChildren(); return }
  const fromBottom = list.scrollHeight - list.scrollTop
  const atBottom = fromBottom - list.clientHeight < 40
  // Replies in a thread live in the thread view; the root shows how many there are.
  const items = [...view.messages.values()].filter((m) => m.threadId === undefined).sort((a, b) => a.seq - b.seq).map((m) => messageElement(view, m))
  list.replaceChildren(...(view.hasOlder ? [h('li', 'older', 'scroll up for older messages')] : []), ...items)
  if (keepScroll && !atBottom) list.scrollTop = list.scrollHeight - fromBottom
  else list.scrollTop = list.scrollHeight
}

function renderTicks (view: ConversationView) {
  for (const li of $('messages').querySelectorAll<HTMLLIElement>('.message.mine')) {
    const m = view.messages.get(Number(li.dataset.seq))
    const el = li.querySelector('.ticks')
    if (m === undefined || el === null) continue
    const ticks = ticksOf(view, m)
    el.textContent = ticks.text
    el.classList.toggle('read', ticks.read)
  }
}

/** Tells the others how far I have read, when the conversation is on screen. */
function markRead (view: ConversationView) {
  if (view.conversation.id !== current || document.visibilityState === 'hidden') return
  const top = Math.max(0, ...view.messages.keys())
  if (top === 0) return
  view.conversation.unreadCount = 0
  view.conversation.unreadMentionCount = 0
  if (!client.live.receipt(view.conversation.id, 'read', top)) void client.rest.markRead(view.conversation.id, top).catch(() => {})
}

async function open (id: string) {
  current = id
  if (replyingTo !== undefined && replyingTo.conversationId !== id) startReply(undefined)
  if (thread !== undefined && thread.conversationId !== id) closeThread()
  const view = views.get(id)!
  renderList()
  renderHeader()
  if (!view.loaded) {
    const [page, participants, pins] = await Promise.all([client.rest.messages(id, { limit: PAGE }), client.rest.participants(id), client.rest.pins(id)])
    for (const m of page.items) view.messages.set(m.seq, m)
    view.pins = pins.items
    view.myRole = participants.items.find((p) => p.userId === me.id)?.role
    view.hasOlder = page.hasMore
    for (const p of participants.items) {
      if (p.userId === me.id) continue
      view.delivered.set(p.userId, Math.max(view.delivered.get(p.userId) ?? 0, p.deliveredSeq))
      view.read.set(p.userId, Math.max(view.read.get(p.userId) ?? 0, p.readSeq))
    }
    view.loaded = true
    await knowUsers(view.conversation.participantIds)
  }
  if (current !== id) return
  renderMessages()
  renderPins()
  renderUploads()
  markRead(view)
  renderList()
  $<HTMLTextAreaElement>('composer-input').focus()
}

async function loadOlder () {
  const view = current === undefined ? undefined : views.get(current)
  if (view === undefined || !view.hasOlder || loadingOlder) return
  loadingOlder = true
  try {
    const oldest = Math.min(...view.messages.keys())
    const page = await client.rest.messages(view.conversation.id, { limit: PAGE, ...(Number.isFinite(oldest) && { beforeSeq: oldest }) })
    for (const m of page.items) view.messages.set(m.seq, m)
    view.hasOlder = page.hasMore
    renderMessages(true)
  } finally {
    loadingOlder = false
  }
}

function onMessage (m: LiveMessage) {
  const view = views.get(m.conversationId)
  if (view === undefined) { void onConversation(m.conversationId); return }
  const c = view.conversation
  // A message at or below the conversation's lastSeq is in its counts already (the list answered after it was stored).
  const unseen = m.seq > c.lastSeq
  if (unseen) {
    c.lastSeq = m.seq
    c.lastMessage = { id: m.id, seq: m.seq, content: m.content, senderId: m.senderId, sentAt: m.sentAt, contentType: m.contentType }
  }
  if (m.senderId !== me.id) {
    client.live.receipt(c.id, 'delivered', m.seq)
    if (c.id !== current && unseen) c.unreadCount++
    if (c.id !== current && unseen && (m.mentionsAll === true || m.mentions.includes(me.id))) c.unreadMentionCount++
  }
  if (view.loaded) view.messages.set(m.seq, m)
  intoThread(m)
  onTyping(c.id, m.senderId, false)
  if (c.id === current) {
    renderMessages()
    markRead(view)
  }
  renderList()
  // A sender the page does not know yet (one just added): named once their profile is read.
  if (m.senderId !== me.id && !users.has(m.senderId)) void knowUsers([m.senderId]).then(() => { if (c.id === current) renderMessages() }, () => {})
}

/** The bar over the messages: what is pinned, the newest pin first. */
function renderPins () {
  const bar = $('pinned')
  const view = current === undefined ? undefined : views.get(current)
  const pins = view?.pins ?? []
  bar.hidden = pins.length === 0
  bar.replaceChildren(...(pins.length === 0 ? [] : [h('span', 'pin-mark', `📌 ${pins.length}`), ...pins.slice(0, 3).map((p) => h('span', 'pinned-text', p.content))]))
}

function onUpdated (m: Message | LiveMessage) {
  const view = views.get(m.conversationId)
  if (view === undefined) return
  if (view.messages.has(m.seq)) view.messages.set(m.seq, m)
  // Quotes follow their original: the new text, or emptied when it is deleted.
  const excerpt = m.deletedAt !== undefined ? '' : [...m.content].slice(0, 200).join('')
  for (const [seq, x] of view.messages) if (x.replyTo?.id === m.id) view.messages.set(seq, { ...x, replyTo: { ...x.replyTo, content: excerpt } })
  intoThread(m)
  const others = view.pins.filter((p) => p.id !== m.id)
  view.pins = m.pinnedAt === undefined || m.deletedAt !== undefined ? others : [m, ...others].sort((a, b) => (b.pinnedAt ?? '').localeCompare(a.pinnedAt ?? ''))
  if (view.conversation.id === current) renderPins()
  const last = view.conversation.lastMessage
  if (last?.id === m.id) {
    last.content = m.content
    if (m.deletedAt !== undefined) last.deleted = true
  }
  if (view.conversation.id === current) renderMessages(true)
  renderList()
}

function onTyping (conversationId: string, userId: string, isTyping: boolean) {
  const view = views.get(conversationId)
  if (view === undefined || userId === me.id) return
  clearTimeout(view.typing.get(userId))
  if (isTyping) view.typing.set(userId, setTimeout(() => onTyping(conversationId, userId, false), 6000))
  else view.typing.delete(userId)
  if (conversationId === current) renderHeader()
}

/** Sends what a composer holds: to the conversation, or into the open thread. */
async function send (ev: SubmitEvent, inThread: boolean) {
  ev.preventDefault()
  const input = $<HTMLTextAreaElement>(inThread ? 'thread-input' : 'composer-input')
  const list = $(inThread ? 'thread-messages' : 'messages')
  const content = input.value.trim()
  const view = current === undefined ? undefined : views.get(current)
  const threadId = inThread ? thread?.rootId : undefined
  // Files go with the conversation's composer, not the thread's.
  const uploads = inThread || view === undefined ? [] : pendingUploads.filter((u) => u.conversationId === view.conversation.id && u.done !== undefined).map((u) => u.done!)
  if ((content === '' && uploads.length === 0) || view === undefined || (inThread && threadId === undefined)) return
  if (uploads.length > 0) {
    pendingUploads = pendingUploads.filter((u) => u.conversationId !== view.conversation.id)
    renderUploads()
  }
  const contentType = uploads.length === 0 ? 'text' : uploads.every((u) => u.type.startsWith('image/')) ? 'image' : 'file'
  const attachments = uploads.map(({ id, url, type, name, size, sha256, thumbnailUrl, width, height }) => ({ id, url, type, name, size, sha256, ...(thumbnailUrl !== undefined && { thumbnailUrl }), ...(width !== undefined && { width }), ...(height !== undefined && { height }) }))
  input.value = ''
  typingSentAt = 0
  const conversationId = view.conversation.id
  const original = inThread ? undefined : replyingTo
  if (!inThread) startReply(undefined)
  const replyTo = original === undefined ? undefined : { id: original.id, seq: original.seq, senderId: original.senderId, content: [...original.content].slice(0, 200).join('') }
  // Shown at once as pending; the ack (after any reconnects) gives it its seq.
  const pending = h('li', 'message mine pending')
  pending.append(h('div', 'text', content), h('div', 'meta', 'sending…'))
  list.append(pending)
  list.scrollTop = list.scrollHeight
  try {
    const ack = await client.live.send({ conversationId, content, ...(contentType !== 'text' && { contentType, attachments: uploads.map((u) => ({ id: u.id })) }), ...(replyTo !== undefined && { replyTo: replyTo.id }), ...(threadId !== undefined && { threadId }) })
    pending.remove()
    onMessage({ id: ack.messageId, conversationId, seq: ack.seq, senderId: me.id, content, contentType, attachments, clientMessageId: ack.clientMessageId, version: ack.version, sentAt: ack.sentAt, deliveredTo: [], readBy: [], reactions: [], mentions: [], ...(replyTo !== undefined && { replyTo }), ...(threadId !== undefined && { threadId }) })
  } catch (err) {
    pending.remove()
    showError(err)
  }
}

// ---- search ----

async function runSearch (ev: SubmitEvent) {
  ev.preventDefault()
  const q = $<HTMLInputElement>('search-input').value.trim()
  const list = $('search-results')
  $('sidebar-error').textContent = ''
  if (q === '') { list.hidden = true; list.replaceChildren(); return }
  try {
    const page = await client.rest.search(q, { limit: 20 })
    await knowUsers(page.items.map((hit) => hit.message.senderId))
    list.hidden = false
    list.replaceChildren(...(page.items.length === 0
      ? [h('li', 'hit none', 'no messages found')]
      : page.items.map((hit) => {
        const li = h('li', 'hit')
        li.dataset.conversation = hit.conversation.id
        li.dataset.seq = String(hit.message.seq)
        const view = views.get(hit.conversation.id)
        const where = hit.conversation.type === 'group' ? hit.conversation.name ?? 'group' : view !== undefined ? titleOf(view.conversation) : 'direct'
        li.append(h('span', 'where', `${where} · ${users.get(hit.message.senderId)?.username ?? (hit.message.senderId === me.id ? 'you' : '…')} · ${time(hit.message.sentAt)}`), h('span', 'text', hit.message.content))
        li.addEventListener('click', () => { void openAt(hit.conversation.id, hit.message.seq) })
        return li
      })))
  } catch (err) {
    showError(err)
  }
}

/** Opens a conversation at one of its messages: older pages are loaded until it is there, then it is shown and marked. */
async function openAt (conversationId: string, seq: number) {
  await open(conversationId)
  const view = views.get(conversationId)
  if (view === undefined || current !== conversationId) return
  for (let pages = 0; !view.messages.has(seq) && view.hasOlder && pages < 50; pages++) await loadOlder()
  const li = $('messages').querySelector<HTMLLIElement>(`.message[data-seq="${seq}"]`)
  if (li === null) return
  li.scrollIntoView({ block: 'center' })
  li.classList.add('found')
  setTimeout(() => li.classList.remove('found'), 3000)
}

// ---- threads ----

/** The open thread's root and replies, if it is in this conversation. */
function threadMessages (conversationId: string): Array<Message | LiveMessage> {
  if (thread === undefined || thread.conversationId !== conversationId) return []
  return [...(thread.root === undefined ? [] : [thread.root]), ...thread.replies.values()]
}

/** A new or changed message into the open thread, when it is its root or one of its replies (never an older version over a newer one). */
function intoThread (m: Message | LiveMessage) {
  const t = thread
  if (t === undefined || t.conversationId !== m.conversationId) return
  if (m.id === t.rootId) {
    if (t.root !== undefined && t.root.version > m.version) return
    t.root = m
  } else if (m.threadId === t.rootId) {
    if ((t.replies.get(m.seq)?.version ?? 0) > m.version) return
    t.replies.set(m.seq, m)
  } else {
    return
  }
  renderThread()
}

async function openThread (conversationId: string, root: Message | LiveMessage) {
  const t: ThreadView = { conversationId, rootId: root.id, root, replies: new Map(), hasOlder: false }
  thread = t
  $('thread').hidden = false
  renderThread()
  await loadThread(t)
  if (thread === t) $<HTMLTextAreaElement>('thread-input').focus()
}

/** The thread's next page back (the first: its newest replies); the root comes with the last. */
async function loadThread (t: ThreadView) {
  const oldest = Math.min(...t.replies.keys())
  try {
    const page = await client.rest.messages(t.conversationId, { threadId: t.rootId, limit: PAGE, ...(Number.isFinite(oldest) && { beforeSeq: oldest }) })
    if (thread !== t) return
    for (const m of page.items) intoThread(m)
    t.hasOlder = page.hasMore
    renderThread(true)
  } catch (err) {
    showError(err)
  }
}

function closeThread () {
  thread = undefined
  $('thread').hidden = true
  $('thread-messages').replaceChildren()
}

function renderThread (keepScroll = false) {
  const t = thread
  const view = t === undefined ? undefined : views.get(t.conversationId)
  if (t === undefined || view === undefined) return
  const list = $('thread-messages')
  const fromBottom = list.scrollHeight - list.scrollTop
  const replies = [...t.replies.values()].sort((a, b) => a.seq - b.seq)
  const items: HTMLLIElement[] = []
  if (t.root !== undefined) {
    const root = messageElement(view, t.root, true)
    root.classList.add('root')
    items.push(root)
  }
  if (t.hasOlder) {
    const older = h('li', 'older')
    const more = h('button', 'link', 'older replies')
    more.type = 'button'
    more.addEventListener('click', () => { void loadThread(t) })
    older.append(more)
    items.push(older)
  }
  items.push(...replies.map((m) => messageElement(view, m, true)))
  list.replaceChildren(...items)
  const n = t.root?.thread?.replyCount ?? replies.length
  $('thread-title').textContent = `Thread · ${n} ${n === 1 ? 'reply' : 'replies'}`
  list.scrollTop = keepScroll ? list.scrollHeight - fromBottom : list.scrollHeight
}

function onInput () {
  const view = current === undefined ? undefined : views.get(current)
  if (view === undefined || Date.now() - typingSentAt < 2000) return
  typingSentAt = Date.now()
  client.live.typing(view.conversation.id, true)
}

function showError (err: unknown) {
  $('sidebar-error').textContent = err instanceof Error ? err.message : String(err)
}

async function userByName (name: string): Promise<PublicUser> {
  const found = (await client.rest.searchUsers(name, 10)).find((u) => u.username.toLowerCase() === name.toLowerCase())
  if (found === undefined) throw new Error(`no user named ${name}`)
  users.set(found.id, found)
  return found
}

async function newDirect (ev: SubmitEvent) {
  ev.preventDefault()
  $('sidebar-error').textContent = ''
  try {
    const input = $<HTMLInputElement>('direct-username')
    const peer = await userByName(input.value.trim())
    const c = await client.rest.createConversation({ type: 'direct', participantIds: [peer.id] })
    viewFor(c)
    await knowUsers(c.participantIds)
    input.value = ''
    await open(c.id)
  } catch (err) {
    showError(err)
  }
}

async function newGroup (ev: SubmitEvent) {
  ev.preventDefault()
  $('sidebar-error').textContent = ''
  try {
    const names = $<HTMLInputElement>('group-members').value.split(',').map((s) => s.trim()).filter((s) => s !== '')
    const members = await Promise.all(names.map(userByName))
    const c = await client.rest.createConversation({ type: 'group', name: $<HTMLInputElement>('group-name').value.trim(), participantIds: members.map((u) => u.id) })
    viewFor(c)
    await knowUsers(c.participantIds)
    await open(c.id)
  } catch (err) {
    showError(err)
  }
}

// ---- start ----

async function start (user: SelfUser) {
  me = user
  $('auth').hidden = true
  $('app').hidden = false
  $('me').textContent = `@${me.username}`
  await loadConversations()
  client.connect()
}

function wire () {
  $('tab-login').addEventListener('click', () => setAuthMode(false))
  $('tab-register').addEventListener('click', () => setAuthMode(true))
  $<HTMLFormElement>('auth-form').addEventListener('submit', (ev) => { void submitAuth(ev) })
  $<HTMLFormElement>('composer').addEventListener('submit', (ev) => { void send(ev, false) })
  $<HTMLFormElement>('thread-composer').addEventListener('submit', (ev) => { void send(ev, true) })
  $('thread-close').addEventListener('click', closeThread)
  $('thread-input').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); $<HTMLFormElement>('thread-composer').requestSubmit() }
  })
  $('composer-input').addEventListener('input', onInput)
  $('attach').addEventListener('click', () => $<HTMLInputElement>('attach-input').click())
  $<HTMLInputElement>('attach-input').addEventListener('change', (ev) => {
    const input = ev.target as HTMLInputElement
    attachFiles([...input.files ?? []])
    input.value = ''
  })
  // A pasted image (a screenshot, say) is attached as a file.
  $('composer-input').addEventListener('paste', (ev) => {
    const files = [...(ev as ClipboardEvent).clipboardData?.files ?? []].filter((f) => f.type.startsWith('image/'))
    if (files.length === 0) return
    ev.preventDefault()
    attachFiles(files)
  })
  $('replying-cancel').addEventListener('click', () => startReply(undefined))
  $('composer-input').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); $<HTMLFormElement>('composer').requestSubmit() }
  })
  $<HTMLFormElement>('new-direct').addEventListener('submit', (ev) => { void newDirect(ev) })
  $<HTMLFormElement>('search').addEventListener('submit', (ev) => { void runSearch(ev) })
  $<HTMLFormElement>('new-group').addEventListener('submit', (ev) => { void newGroup(ev) })
  $('messages').addEventListener('scroll', () => { if ($('messages').scrollTop < 40) void loadOlder() })
  document.addEventListener('visibilitychange', () => { const v = current === undefined ? undefined : views.get(current); if (v !== undefined) markRead(v) })
  $('logout').addEventListener('click', () => { void client.logout().finally(() => location.reload()) })
}

async function boot () {
  wire()
  const stored = localStorage.getItem(TOKENS_KEY)
  if (stored !== null) {
    try {
      newClient(JSON.parse(stored) as Tokens)
      await start(await client.rest.me())
      return
    } catch {
      saveTokens(null)
    }
  }
  setAuthMode(false)
  showAuth()
}

void boot()
