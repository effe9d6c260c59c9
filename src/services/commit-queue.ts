/**
 * Group commit per key, within this process.
 *
 * A caller reserves its place with `reserve(key)` synchronously, in arrival
 * order, then does its own checks and either fills the slot with a draft or
 * cancels it. Per key, one commit runs at a time: it takes every filled slot
 * at the head of the queue (up to `maxBatch`, stopping at the first slot still
 * being checked, so order is kept) and hands them to `commit` together. While
 * a batch is being written, the next one gathers; under load a batch costs
 * the store what one draft did. Keys with nothing queued hold no memory.
 */
export interface Slot<D, R> {
  fill (draft: D): Promise<R>
  cancel (): void
}

/** What `commit` answers for each draft, in the order given: its result, or the error it failed with. */
export type Outcome<R> = { ok: true, value: R } | { ok: false, error: unknown }

interface Entry<D, R> {
  draft?: D
  cancelled: boolean
  resolve: (value: R) => void
  reject: (error: unknown) => void
}

export function createCommitQueue<D, R> (commit: (key: string, drafts: D[]) => Promise<Array<Outcome<R>>>, opts: { maxBatch: number }) {
  const queues = new Map<string, Array<Entry<D, R>>>()
  /** Keys whose head is being written, or waits for a draft. */
  const busy = new Set<string>()

  async function drain (key: string): Promise<void> {
    const queue = queues.get(key)
    if (queue === undefined || busy.has(key)) return
    busy.add(key)
    try {
      for (;;) {
        while (queue.length > 0 && queue[0]!.cancelled) queue.shift()
        if (queue.length === 0) {
          queues.delete(key)
          return
        }
        // The head is still being checked: its fill (or cancel) drains again.
        if (queue[0]!.draft === undefined) return
        const batch: Array<Entry<D, R>> = []
        while (batch.length < opts.maxBatch && queue.length > 0) {
          const head = queue[0]!
          if (head.cancelled) { queue.shift(); continue }
          if (head.draft === undefined) break
          batch.push(queue.shift()!)
        }
        let outcomes: Array<Outcome<R>>
        try {
          outcomes = await commit(key, batch.map((e) => e.draft!))
        } catch (error) {
          outcomes = batch.map(() => ({ ok: false, error }))
        }
        batch.forEach((entry, i) => {
          const outcome = outcomes[i] ?? { ok: false, error: new Error('commit answered fewer outcomes than drafts') }
          if (outcome.ok) entry.resolve(outcome.value)
          else entry.reject(outcome.error)
        })
      }
    } finally {
      busy.delete(key)
    }
  }

  return {
    /** Takes a place in `key`'s queue; call synchronously, in the order the drafts must be committed. */
    reserve (key: string): Slot<D, R> {
      let queue = queues.get(key)
      if (queue === undefined) queues.set(key, queue = [])
      let resolve!: (value: R) => void
      let reject!: (error: unknown) => void
      const result = new Promise<R>((res, rej) => { resolve = res; reject = rej })
      const entry: Entry<D, R> = { cancelled: false, resolve, reject }
      queue.push(entry)
      let used = false
      return {
        fill (draft) {
          if (used) throw new Error('slot already used')
          used = true
          entry.draft = draft
          void drain(key)
          return result
        },
        cancel () {
          if (used) return
          used = true
          entry.cancelled = true
          void drain(key)
        }
      }
    },

    /** Keys with drafts queued or being written (for tests and metrics). */
    get pendingKeys (): number {
      return queues.size
    }
  }
}
