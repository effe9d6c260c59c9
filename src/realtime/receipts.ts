/**
 * Coalesces receipt frames: per (user, conversation, kind) only the highest
 * seq is kept, and written once per flush interval, so a burst of receipts
 * is a few store writes, not one per frame.
 */
export interface ReceiptBatcherDeps {
  flushMs: number
  write (userId: string, conversationId: string, kind: 'delivered' | 'read', seq: number): Promise<void>
  onError (err: unknown, receipt: { userId: string, conversationId: string, kind: string, seq: number, connectionId: string }): void
}

export function createReceiptBatcher (deps: ReceiptBatcherDeps) {
  const pending = new Map<string, { userId: string, conversationId: string, kind: 'delivered' | 'read', seq: number, connectionId: string }>()
  let timer: NodeJS.Timeout | undefined

  async function flush (): Promise<void> {
    clearTimeout(timer)
    timer = undefined
    const batch = [...pending.values()]
    pending.clear()
    // A read also moves delivered: skip delivered receipts that a read of the same or higher seq covers.
    const writes = batch.filter((r) => !(r.kind === 'delivered' && batch.some((o) => o.kind === 'read' && o.userId === r.userId && o.conversationId === r.conversationId && o.seq >= r.seq)))
    // One member's watermarks are written one after the other (delivered, then read): two
    // concurrent updates of one document can race on servers that apply them as read-modify-write.
    const byMember = new Map<string, typeof writes>()
    for (const r of writes) {
      const key = `${r.userId}:${r.conversationId}`
      byMember.set(key, [...(byMember.get(key) ?? []), r].sort((x, y) => (x.kind === y.kind ? 0 : x.kind === 'delivered' ? -1 : 1)))
    }
    await Promise.all([...byMember.values()].map(async (list) => {
      for (const r of list) await deps.write(r.userId, r.conversationId, r.kind, r.seq).catch((err) => deps.onError(err, r))
    }))
  }

  return {
    add (connectionId: string, userId: string, conversationId: string, kind: 'delivered' | 'read', seq: number): void {
      const key = `${userId}:${conversationId}:${kind}`
      const current = pending.get(key)
      if (current === undefined || current.seq < seq) pending.set(key, { userId, conversationId, kind, seq, connectionId })
      timer ??= setTimeout(() => { void flush() }, deps.flushMs)
    },
    flush,
    get pending () { return pending.size }
  }
}

export type ReceiptBatcher = ReturnType<typeof createReceiptBatcher>
