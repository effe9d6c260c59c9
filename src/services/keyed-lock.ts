/**
 * Runs tasks one at a time per key, in arrival order, within this process.
 * Keys with no pending task hold no memory.
 */
export function createKeyedLock () {
  const tails = new Map<string, Promise<unknown>>()
  return async function withLock<T> (key: string, task: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve()
    const run = previous.then(task, task)
    const tail = run.then(() => {}, () => {})
    tails.set(key, tail)
    try {
      return await run
    } finally {
      if (tails.get(key) === tail) tails.delete(key)
    }
  }
}
