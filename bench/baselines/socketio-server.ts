/**
 * The peer: a minimal Socket.IO 4 chat server as a team would start one,
 * with @socket.io/redis-adapter (so it scales out the same way) and the same
 * persistence as ours: one insert per message into the same MongoDB-compatible
 * server, acknowledged after the insert, then fanned out to the room.
 */
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'

const port = Number(process.env.PORT ?? 4200)
const mongo = new MongoClient(process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017/')
const messages = mongo.db(process.env.MONGODB_DB ?? 'socketio_bench').collection('messages')
const pub = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const sub = pub.duplicate()

await mongo.connect()
const http = createServer((_req, res) => { res.writeHead(404).end() })
const io = new Server(http, { adapter: createAdapter(pub, sub, { key: `sio-bench-${process.pid}` }), transports: ['websocket'] })

io.on('connection', (socket) => {
  const rooms = String(socket.handshake.query.rooms ?? '').split(',').filter((r) => r !== '')
  for (const room of rooms) void socket.join(room)
  socket.on('send', async (frame: { room: string, id: string, content: string }, ack?: (id: string) => void) => {
    await messages.insertOne({ room: frame.room, clientId: frame.id, content: frame.content, sentAt: new Date() })
    ack?.(frame.id)
    socket.to(frame.room).emit('message', frame)
  })
})
http.listen(port, '127.0.0.1', () => console.log(`socket.io baseline listening on ${port}`))
