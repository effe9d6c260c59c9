/**
 * A device for resume tests: its state is only what sync frames told it
 * (conversations, messages and cursors), so a test can compare it with what
 * REST returns.
 */
import type { Frame } from '../ws-client.js'
import { WsClient } from '../ws-client.js'
import type { Client } from '../helper.js'

/** What a test compares: the fields that sync must keep exactly as REST has them. */
export interface Held {
  conversations: Record<string, { type: string, name?: string, participantIds: string[] }>
  messages: Record<string, Record<string, { seq: number, version: number, senderId: string, content: string, deleted: boolean, edited: boolean }>>
}

export class Device {
  readonly conversations = new Map<string, Frame>()
  /** conversationId → messageId → message */
  readonly messages = new Map<string, Map<string, Frame>>()
  cursors: Record<string, number> = {}
  /** Frames the last sync replayed (every batch, sync_complete left out). */
  lastReplay: Frame[] = []
  batches = 0

  constructor (readonly token: () => string) {}

  private apply (f: Frame): void {
    switch (f.type) {
      case 'conversation_updated':
        this.conversations.set(f.conversation.id, f.conversation)
        return
      case 'conversation_removed':
        this.conversations.delete(f.conversationId)
        this.messages.delete(f.conversationId)
        delete this.cursors[f.conversationId]
        return
      case 'new_message':
      case 'message_updated': {
        const m = f.message
        const held = this.messages.get(m.conversationId) ?? new Map<string, Frame>()
        if ((held.get(m.id)?.version ?? -1) < m.version) held.set(m.id, m)
        this.messages.set(m.conversationId, held)
        return
      }
      case 'message_deleted': {
        const held = this.messages.get(f.conversationId)?.get(f.messageId)
        if (held !== undefined && held.version < f.version) Object.assign(held, { content: '', attachments: [], deletedAt: 'deleted', version: f.version })
      }
    }
  }

  /** Connects to `base`, syncs until the server has nothing more, and disconnects. */
  async sync (base: string): Promise<void> {
    const ws = await WsClient.connect(base, this.token())
    this.lastReplay = []
    try {
      for (;;) {
        const from = ws.frames.length
        ws.send({ type: 'sync', cursors: this.cursors })
        await ws.waitFor('sync_complete', () => true, ws.all('sync_complete').length + 1, 15_000)
        const frames = ws.frames.slice(from)
        const end = frames.findIndex((f) => f.type === 'sync_complete')
        for (const f of frames.slice(0, end)) {
          this.apply(f)
          if (['conversation_updated', 'conversation_removed', 'new_message', 'message_updated', 'message_deleted'].includes(f.type)) this.lastReplay.push(f)
        }
        const done = frames[end]!
        this.batches++
        this.cursors = { ...this.cursors, ...done.cursors }
        if (!done.hasMore) break
      }
    } finally {
      ws.close()
    }
  }

  held (): Held {
    const out: Held = { conversations: {}, messages: {} }
    for (const [id, c] of this.conversations) {
      out.conversations[id] = { type: c.type, ...(c.name !== undefined && { name: c.name }), participantIds: [...c.participantIds].sort() }
      out.messages[id] = {}
      for (const m of this.messages.get(id)?.values() ?? []) out.messages[id]![m.id] = shape(m)
    }
    return out
  }
}

// A tombstone's editedAt is not compared: message_deleted does not carry it, and a deleted message shows no edit.
const shape = (m: Frame) => ({ seq: m.seq, version: m.version, senderId: m.senderId, content: m.content, deleted: m.deletedAt !== undefined, edited: m.deletedAt === undefined && m.editedAt !== undefined })

/** The same, as REST answers it for the user of `api`: every conversation (every page), every message of each. */
export async function restHolds (api: Client): Promise<Held> {
  const out: Held = { conversations: {}, messages: {} }
  let cursor: string | null = null
  do {
    const page: { items: Array<{ id: string, type: string, name?: string, participantIds: string[] }>, nextCursor: string | null } = (await api.get(`/v1/conversations?limit=100${cursor === null ? '' : `&cursor=${cursor}`}`)).body
    for (const c of page.items) out.conversations[c.id] = { type: c.type, ...(c.name !== undefined && { name: c.name }), participantIds: [...c.participantIds].sort() }
    cursor = page.nextCursor
  } while (cursor !== null)
  for (const id of Object.keys(out.conversations)) {
    out.messages[id] = {}
    let afterSeq = 0
    for (;;) {
      const page = (await api.get(`/v1/conversations/${id}/messages?limit=100&afterSeq=${afterSeq}`)).body
      for (const m of page.items) out.messages[id]![m.id] = shape(m)
      if (!page.hasMore) break
      afterSeq = page.items.at(-1).seq
    }
  }
  return out
}
