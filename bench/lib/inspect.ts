/**
 * Looking inside a server process from outside, the same way for ours and the
 * baselines: its resident memory from /proc, and a garbage collection and the
 * event-loop delay through the inspector (the server runs with --inspect).
 */
import { readFileSync } from 'node:fs'
import WebSocket from 'ws'

export function rssBytes (pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024
}

export interface Inspector {
  gc (): Promise<void>
  /** The event-loop delay percentiles over `ms`, in milliseconds. */
  eventLoopDelay (ms: number): Promise<{ p50: number, p99: number, max: number }>
  close (): void
}

export async function inspect (port: number): Promise<Inspector> {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as Array<{ webSocketDebuggerUrl: string }>
  const socket = new WebSocket(target!.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  let next = 0
  const pending = new Map<number, (value: { result?: { result?: { value?: unknown } }, error?: unknown }) => void>()
  socket.on('message', (data) => {
    const m = JSON.parse(String(data)) as { id?: number }
    if (m.id !== undefined) pending.get(m.id)?.(m as never)
  })
  const call = (method: string, params: object = {}) => new Promise<{ result?: { result?: { value?: unknown } }, error?: unknown }>((resolve) => {
    const id = ++next
    pending.set(id, resolve)
    socket.send(JSON.stringify({ id, method, params }))
  })
  return {
    async gc () {
      await call('HeapProfiler.collectGarbage')
      await call('HeapProfiler.collectGarbage')
    },
    async eventLoopDelay (ms) {
      const expression = `(async () => {
        const { monitorEventLoopDelay } = process.getBuiltinModule('node:perf_hooks')
        const h = monitorEventLoopDelay({ resolution: 10 })
        h.enable()
        await new Promise((r) => setTimeout(r, ${ms}))
        h.disable()
        return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 }
      })()`
      const r = await call('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })
      const v = r.result?.result?.value as { p50: number, p99: number, max: number } | undefined
      if (v === undefined) throw new Error(`event-loop probe failed: ${JSON.stringify(r).slice(0, 300)}`)
      return v
    },
    close () { socket.close() }
  }
}
