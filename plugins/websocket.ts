import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { CloseCode } from '../src/realtime/close-codes.js'

/** @fastify/websocket with the payload limit from the config; on shutdown every socket is closed with 1012. */
export default fp(async (app) => {
  await app.register(websocket, {
    options: { maxPayload: app.config.WS_MAX_PAYLOAD_BYTES },
    preClose: (done) => {
      for (const client of app.websocketServer.clients) client.close(CloseCode.SERVICE_RESTART, 'server shutting down')
      done()
    }
  })
}, { name: 'websocket', dependencies: ['config'] })
