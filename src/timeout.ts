/**
 * Waits for `promise` at most `ms`: rejects with "no answer within ms" after
 * that. A late failure of the promise is then ignored (the timeout already
 * reported it); the timer never outlives the wait.
 */
export async function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T> {
  promise.catch(() => {})
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms) })
    ])
  } finally {
    clearTimeout(timer)
  }
}
