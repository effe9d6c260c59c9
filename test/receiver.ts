/** A real HTTP receiver of outgoing events on a local port, for tests: it records every POST and answers as told. */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { Test } from 'tap'
import { Webhook } from 'standardwebhooks'

export interface Received {
  headers: IncomingHttpHeaders
  body: string
  at: number
}

export interface ReceivedEvent { id: string, type: string, createdAt: string, data: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Receiver {
  url: string
  received: Received[]
  /** How the next POST is answered (the default: 200). */
  answer: (r: Received, n: number, res: ServerResponse) => void
  /** The bodies that verify with `secret`, parsed; throws on one that does not. */
  verified (secret: string): ReceivedEvent[]
  /** Waits until `where` holds of what was received. */
  until (where: (events: ReceivedEvent[]) => boolean, timeoutMs?: number): Promise<ReceivedEvent[]>
}

export async function startReceiver (t: Test): Promise<Receiver> {
  const received: Received[] = []
  const receiver: Receiver = {
    url: '',
    received,
    answer: (_r, _n, res) => { res.writeHead(200).end('ok') },
    verified (secret) {
      const wh = new Webhook(secret)
      return received.map((r) => wh.verify(r.body, r.headers as Record<string, string>) as ReceivedEvent)
    },
    async until (where, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const events = received.map((r) => JSON.parse(r.body) as ReceivedEvent)
        if (where(events)) return events
        if (Date.now() > deadline) throw new Error(`timed out; received ${events.length}: ${events.map((e) => e.type).join(', ')}`)
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    }
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() }
      received.push(r)
      receiver.answer(r, received.length, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return receiver
}
