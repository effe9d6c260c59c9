/**
 * Reliable chat traffic over several nodes, and the check that nothing
 * acknowledged was lost or duplicated: what the fault tests and the soak run.
 *
 * Users talk in direct pairs and in one group; each user has devices (live
 * clients from client/) spread over the nodes, which reconnect to the next
 * node when theirs goes. The verdict compares the acknowledgements with the
 * stored history and with what every device received.
 */
import WebSocket from 'ws'
import { LiveClient, type LiveMessage, type SendAck } from '../../client/src/live.js'

export interface Account {
  id: string
  username: string
  accessToken: string
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** One REST call against the first node that answers; retried while the cluster recovers. */
export async function api<T = unknown> (urls: string[], token: string | undefined, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<{ status: number, body: T }> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (let attempt = 0; ; attempt++) {
    const base = urls[attempt % urls.length]!
    try {
      const res = await fetch(base + path, {
        method,
        headers: { ...(token !== undefined && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000)
      })
      const text = await res.text()
      if (res.status !== 503 && res.status < 500) return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T }
      last = `${res.status} ${text.slice(0, 200)}`
    } catch (err) {
      last = (err as Error).message
    }
    if (Date.now() > deadline) throw new Error(`${method} ${path} failed for ${timeoutMs} ms: ${last}`)
    await sleep(Math.min(1000, 100 * 2 ** Math.min(attempt, 4)))
  }
}

/** api(), and the body when the answer is a 2xx; throws with the status and body otherwise. */
export async function apiOk<T = unknown> (urls: string[], token: string | undefined, method: string, path: string, body?: unknown): Promise<T> {
  const res = await api<T>(urls, token, method, path, body)
  if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

export async function register (urls: string[], username: string): Promise<Account> {
  const res = await api<{ user: { id: string }, accessToken: string }>(urls, undefined, 'POST', '/v1/auth/register', { username, email: `${username}@example.test`, password: 'correct horse battery' })
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${JSON.stringify(res.body)}`)
  return { id: res.body.user.id, username, accessToken: res.body.accessToken }
}

/** A live client plus everything it received, for the verdict. */
export class Device {
  readonly client: LiveClient
  /** conversationId -> seq -> message id, each as first received. */
  readonly received = new Map<string, Map<number, string>>()
  /** Messages the client emitted twice (its deduplication failed). */
  duplicates = 0
  readonly deliveryMs: number[] = []
  /** messageId -> what this device shows: content, deleted or not, at which version. */
  readonly state = new Map<string, { content: string, deleted: boolean, version: number }>()

  constructor (readonly account: Account, urls: string[], conversationIds: string[]) {
    this.client = new LiveClient({
      urls,
      token: () => account.accessToken,
      WebSocket: WebSocket,
      cursors: Object.fromEntries(conversationIds.map((id) => [id, 0])),
      minDelayMs: 100,
      maxDelayMs: 2000,
      ackTimeoutMs: 4000
    })
    this.client.on('message', (m: LiveMessage) => {
      if (this.received.get(m.conversationId)?.has(m.seq) === true) { this.duplicates++; return }
      this.record(m.conversationId, m.seq, m.id)
      this.show(m.id, m.content, m.deletedAt !== undefined, m.version)
      if (m.senderId !== account.id) this.deliveryMs.push(Date.now() - Date.parse(m.sentAt))
    })
    this.client.on('updated', (m: LiveMessage) => this.show(m.id, m.content, m.deletedAt !== undefined, m.version))
    this.client.on('deleted', (d) => this.show(d.messageId, '', true, d.version))
  }

  /** What the device shows of a message, unless it shows a later version already. */
  show (messageId: string, content: string, deleted: boolean, version: number): void {
    if ((this.state.get(messageId)?.version ?? -1) < version) this.state.set(messageId, { content, deleted, version })
  }

  /** A message this device holds: received, or its own send acknowledged (that socket gets no new_message for it). */
  record (conversationId: string, seq: number, messageId: string): void {
    let bySeq = this.received.get(conversationId)
    if (bySeq === undefined) this.received.set(conversationId, (bySeq = new Map()))
    const had = bySeq.get(seq)
    if (had !== undefined && had !== messageId) this.duplicates++ // two messages under one seq
    bySeq.set(seq, messageId)
  }

  /** Resolves after the next complete sync. */
  async synced (timeoutMs = 30_000): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`${this.account.username}: no sync_complete within ${timeoutMs} ms (state ${this.client.state})`)) }, timeoutMs)
      const off = this.client.on('synced', () => { clearTimeout(timer); off(); resolve() })
      this.client.sync()
    })
  }
}

export interface WorkloadOptions {
  urls: string[]
  users: number
  /** Devices per user; device i of a user starts on node (user + i) % nodes. */
  devicesPerUser?: number
  /** A group of every user besides the direct pairs. */
  group?: boolean
  prefix: string
  /** Of every tick of run(), the share that edits or deletes (over REST, half each) a message sent before instead of sending. */
  changes?: number
}

export interface Attempt {
  clientMessageId: string
  conversationId: string
  senderId: string
  startedAt: number
  ack?: SendAck
  ackMs?: number
  refused?: string
}

export interface Verdict {
  attempted: number
  acked: number
  /** Edits and deletions asked for (each over REST, whatever its answer). */
  changes: number
  /** (device, message) pairs where the device shows other content than history, or a deleted message as not deleted (or the reverse). */
  stale: number
  /** Acked but missing from history, or missing on a participant's device after its sync. */
  lost: number
  /** A message id twice in history, a clientMessageId stored twice, an ack pointing at two messages, or a device given one twice. */
  duplicated: number
  refused: number
  unacked: number
  reconnects: number
  resent: number
  ackP50Ms: number
  ackP99Ms: number
  deliverP99Ms: number
  problems: string[]
}

export function percentile (values: number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export class Workload {
  readonly accounts: Account[] = []
  /** conversationId -> participant user ids */
  readonly conversations = new Map<string, string[]>()
  readonly devices: Device[] = []
  readonly attempts: Attempt[] = []
  changes = 0
  private stopped = false
  private seq = 0

  private constructor (private readonly options: WorkloadOptions) {}

  static async create (options: WorkloadOptions): Promise<Workload> {
    const w = new Workload(options)
    const { urls } = options
    for (let i = 0; i < options.users; i++) w.accounts.push(await register(urls, `${options.prefix}${i}`))
    for (let i = 0; i + 1 < w.accounts.length; i += 2) {
      const [a, b] = [w.accounts[i]!, w.accounts[i + 1]!]
      const res = await api<{ id: string }>(urls, a.accessToken, 'POST', '/v1/conversations', { type: 'direct', participantIds: [b.id] })
      w.conversations.set(res.body.id, [a.id, b.id])
    }
    if (options.group !== false && w.accounts.length > 2) {
      const [owner, ...rest] = w.accounts
      const res = await api<{ id: string }>(urls, owner!.accessToken, 'POST', '/v1/conversations', { type: 'group', name: `${options.prefix}group`, participantIds: rest.map((a) => a.id) })
      w.conversations.set(res.body.id, w.accounts.map((a) => a.id))
    }
    const perUser = options.devicesPerUser ?? 1
    w.accounts.forEach((account, u) => {
      const mine = [...w.conversations].filter(([, members]) => members.includes(account.id)).map(([id]) => id)
      for (let d = 0; d < perUser; d++) {
        const start = (u + d) % urls.length
        w.devices.push(new Device(account, [...urls.slice(start), ...urls.slice(0, start)], mine))
      }
    })
    for (const device of w.devices) device.client.start()
    await Promise.all(w.devices.map((d) => d.synced()))
    return w
  }

  conversationsOf (userId: string): string[] {
    return [...this.conversations].filter(([, members]) => members.includes(userId)).map(([id]) => id)
  }

  /** One send from a random device into one of its user's conversations. */
  sendOne (): Promise<void> {
    const device = this.devices[Math.floor(Math.random() * this.devices.length)]!
    const mine = this.conversationsOf(device.account.id)
    const conversationId = mine[Math.floor(Math.random() * mine.length)]!
    const attempt: Attempt = { clientMessageId: `${this.options.prefix}m${++this.seq}`, conversationId, senderId: device.account.id, startedAt: Date.now() }
    this.attempts.push(attempt)
    const content = `message ${this.seq} from ${device.account.username}`
    return device.client.send({ conversationId, content, clientMessageId: attempt.clientMessageId }).then(
      (ack) => {
        attempt.ack = ack
        attempt.ackMs = Date.now() - attempt.startedAt
        device.record(ack.conversationId, ack.seq, ack.messageId)
        device.show(ack.messageId, content, false, ack.version)
      },
      (err: Error) => { attempt.refused = err.message }
    )
  }

  /** An edit or a deletion (half each) of a message sent before, by its sender, over REST (retried through outages). */
  async changeOne (): Promise<void> {
    const acked = this.attempts.filter((a) => a.ack !== undefined)
    if (acked.length === 0) return
    const a = acked[Math.floor(Math.random() * acked.length)]!
    const token = this.accounts.find((x) => x.id === a.senderId)!.accessToken
    const path = `/v1/conversations/${a.conversationId}/messages/${a.ack!.messageId}`
    this.changes++
    const edit = Math.random() < 0.5
    await api(this.options.urls, token, edit ? 'PATCH' : 'DELETE', path, edit ? { content: `edited ${this.changes}` } : undefined).catch(() => {})
  }

  /** Sends at `perSecond` (open loop) until stop(); with `changes`, some ticks edit or delete instead. */
  async run (perSecond: number): Promise<void> {
    this.stopped = false
    const interval = 1000 / perSecond
    let next = Date.now()
    while (!this.stopped) {
      if (Math.random() < (this.options.changes ?? 0)) void this.changeOne()
      else void this.sendOne()
      next += interval
      await sleep(Math.max(0, next - Date.now()))
    }
  }

  stop (): void {
    this.stopped = true
  }

  /** Waits until every send is acknowledged or refused. */
  async drain (timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.attempts.some((a) => a.ack === undefined && a.refused === undefined)) {
      if (Date.now() > deadline) return
      await sleep(100)
    }
  }

  /** Every message of a conversation, paged forward over REST. */
  async history (conversationId: string, token: string): Promise<Array<{ id: string, seq: number, senderId: string, clientMessageId?: string, content: string, deletedAt?: string }>> {
    const all: Array<{ id: string, seq: number, senderId: string, clientMessageId?: string, content: string, deletedAt?: string }> = []
    let after = 0
    for (;;) {
      const res = await api<{ items: typeof all, hasMore: boolean }>(this.options.urls, token, 'GET', `/v1/conversations/${conversationId}/messages?afterSeq=${after}&limit=100`)
      if (res.status !== 200) throw new Error(`history ${conversationId}: ${res.status} ${JSON.stringify(res.body)}`)
      all.push(...res.body.items)
      if (!res.body.hasMore || res.body.items.length === 0) return all
      after = res.body.items.at(-1)!.seq
    }
  }

  /** Syncs every device, then compares acks, history and deliveries. */
  async verdict (): Promise<Verdict> {
    const problems: string[] = []
    let lost = 0
    let duplicated = 0
    let stale = 0
    await Promise.all(this.devices.map((d) => d.synced(60_000)))
    const tokenOf = (userId: string) => this.accounts.find((a) => a.id === userId)!.accessToken
    const histories = new Map<string, Awaited<ReturnType<Workload['history']>>>()
    for (const [id, members] of this.conversations) histories.set(id, await this.history(id, tokenOf(members[0]!)))

    for (const [id, items] of histories) {
      const ids = new Set<string>()
      const keys = new Set<string>()
      for (const m of items) {
        if (ids.has(m.id)) { duplicated++; problems.push(`message ${m.id} twice in the history of ${id}`) }
        ids.add(m.id)
        const key = `${m.senderId}/${m.clientMessageId}`
        if (m.clientMessageId !== undefined && keys.has(key)) { duplicated++; problems.push(`clientMessageId ${m.clientMessageId} stored twice in ${id}`) }
        keys.add(key)
      }
    }
    const byKey = new Map<string, string>()
    for (const a of this.attempts) {
      if (a.ack === undefined) continue
      const stored = histories.get(a.conversationId)?.find((m) => m.id === a.ack!.messageId)
      if (stored === undefined) { lost++; problems.push(`acked ${a.clientMessageId} (${a.ack.messageId}) is not in history`); continue }
      const key = `${a.senderId}/${a.clientMessageId}`
      if (byKey.has(key) && byKey.get(key) !== a.ack.messageId) { duplicated++; problems.push(`${a.clientMessageId} acked as two messages`) }
      byKey.set(key, a.ack.messageId)
    }
    for (const device of this.devices) {
      duplicated += device.duplicates
      if (device.duplicates > 0) problems.push(`${device.account.username} was given ${device.duplicates} message(s) twice`)
      for (const conversationId of this.conversationsOf(device.account.id)) {
        const got = device.received.get(conversationId) ?? new Map<number, string>()
        for (const m of histories.get(conversationId) ?? []) {
          if (got.get(m.seq) !== m.id) {
            lost++
            if (problems.length < 50) problems.push(`${device.account.username} never got seq ${m.seq} of ${conversationId}`)
            continue
          }
          const shown = device.state.get(m.id)
          if (shown?.content === m.content && shown.deleted === (m.deletedAt !== undefined)) continue
          stale++
          if (problems.length < 50) problems.push(`${device.account.username} shows ${JSON.stringify(shown)} for ${m.id}, history has ${JSON.stringify({ content: m.content, deleted: m.deletedAt !== undefined })}`)
        }
      }
    }
    const acked = this.attempts.filter((a) => a.ack !== undefined)
    return {
      attempted: this.attempts.length,
      acked: acked.length,
      changes: this.changes,
      stale,
      lost,
      duplicated,
      refused: this.attempts.filter((a) => a.refused !== undefined).length,
      unacked: this.attempts.filter((a) => a.ack === undefined && a.refused === undefined).length,
      reconnects: this.devices.reduce((n, d) => n + d.client.stats.reconnects, 0),
      resent: this.devices.reduce((n, d) => n + d.client.stats.resent, 0),
      ackP50Ms: percentile(acked.map((a) => a.ackMs!), 50),
      ackP99Ms: percentile(acked.map((a) => a.ackMs!), 99),
      deliverP99Ms: percentile(this.devices.flatMap((d) => d.deliveryMs), 99),
      problems
    }
  }

  close (): void {
    this.stop()
    for (const d of this.devices) d.client.close()
  }
}
