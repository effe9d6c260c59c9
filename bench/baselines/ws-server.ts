/**
 * The limit: a raw `ws` broadcast server. No auth, no storage, no broker: a
 * socket names its rooms in the URL (`/?rooms=a,b`); a frame `{room, id,
 * content}` is acknowledged to its sender (`{ack: id}`) and sent once, as the
 * same text, to every other socket in the room.
 *
 * CORK=1: frames written to a socket in one turn of the event loop leave in
 * one write (the same coalescing ours does), so that ours is also compared
 * with a limit that does it.
 */
import { WebSocketServer, type WebSocket } from 'ws'

const port = Number(process.env.PORT ?? 4100)
const rooms = new Map<string, Set<WebSocket>>()
const wss = new WebSocketServer({ port, host: '127.0.0.1' })
const corking = process.env.CORK === '1'
const corked = new Set<WebSocket>()

function send (socket: WebSocket, text: string) {
  const tcp = (socket as unknown as { _socket?: { cork (): void, uncork (): void } })._socket
  if (corking && tcp !== undefined && !corked.has(socket)) {
    corked.add(socket)
    tcp.cork()
    process.nextTick(() => { corked.delete(socket); tcp.uncork() })
  }
  socket.send(text)
}

wss.on('connection', (socket, request) => {
  const names = (new URL(request.url ?? '/', 'http://x').searchParams.get('rooms') ?? '').split(',').filter((r) => r !== '')
  for (const name of names) {
    let room = rooms.get(name)
    if (room === undefined) rooms.set(name, (room = new Set()))
    room.add(socket)
  }
  socket.on('message', (data) => {
    const text = String(data)
    const frame = JSON.parse(text) as { room: string, id: string }
    send(socket, `{"ack":${JSON.stringify(frame.id)}}`)
    for (const peer of rooms.get(frame.room) ?? []) if (peer !== socket) send(peer, text)
  })
  socket.on('close', () => { for (const name of names) rooms.get(name)?.delete(socket) })
})
wss.on('listening', () => console.log(`ws baseline listening on ${port}`))
