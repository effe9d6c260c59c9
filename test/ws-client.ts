/** A real websocket client for end-to-end tests: collects frames and waits for the ones a test expects. */
import WebSocket from 'ws'

export interface Frame {
  type: string
  [key: string]: any // eslint-disable-line @typescript-eslint/no-explicit-any
}

export class WsClient {
  readonly frames: Frame[] = []
  closed: { code: number, reason: string } | undefined
  private waiters: Array<() => void> = []

  private constructor (readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame)
      this.wake()
    })
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) }
      this.wake()
    })
  }

  /** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
  static connect (baseUrl: string, token: string | undefined, opts: { header?: boolean, maxPayload?: number } = {}): Promise<WsClient> {
    const url = new URL('/v1/ws', baseUrl.replace(/^http/, 'ws'))
    if (token !== undefined && opts.header !== true) url.searchParams.set('token', token)
    const socket = new WebSocket(url, { headers: opts.header === true && token !== undefined ? { authorization: `Bearer ${token}` } : {} })
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new WsClient(socket)))
      socket.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { statusCode: res.statusCode })))
      socket.once('error', reject)
    })
  }

  private wake () {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  send (frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Frames of a type (optionally matching a predicate) received so far. */
  all (type: string, where: (f: Frame) => boolean = () => true): Frame[] {
    return this.frames.filter((f) => f.type === type && where(f))
  }

  /** Waits until `count` frames of `type` matching `where` have arrived; resolves with them. */
  async waitFor (type: string, where: (f: Frame) => boolean = () => true, count = 1, timeoutMs = 5000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.all(type, where)
      if (found.length >= count) return found
      if (this.closed !== undefined && type !== 'close') throw new Error(`socket closed (${this.closed.code}) while waiting for ${type}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${count} ${type} frame(s); got ${found.length}: ${JSON.stringify(this.frames.slice(-5))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  async waitClosed (timeoutMs = 5000): Promise<{ code: number, reason: string }> {
    const deadline = Date.now() + timeoutMs
    while (this.closed === undefined) {
      if (Date.now() > deadline) throw new Error('socket did not close')
      await new Promise<void>((resolve) => { const timer = setTimeout(resolve, 50); this.waiters.push(() => { clearTimeout(timer); resolve() }) })
    }
    return this.closed
  }

  /** Sends a ping and waits for its pong: every frame sent before it has been handled. */
  async roundTrip (): Promise<void> {
    const before = this.all('pong').length
    this.send({ type: 'ping' })
    await this.waitFor('pong', () => true, before + 1)
  }

  close (): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close()
  }
}
