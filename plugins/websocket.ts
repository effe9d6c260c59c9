import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'

/** Close code for "service restart": clients reconnect, through the load balancer, to another node. */
export const CLOSE_SERVICE_RESTART = 1012

/** @fastify/websocket with the payload limit from the config; on shutdown every socket is closed with 1012. */
export default fp(async (app) => {
  await app.register(websocket, {
    options: { maxPayload: app.config.WS_MAX_PAYLOAD_BYTES },
    preClose: (done) => {
      for (const client of app.websocketServer.clients) client.close(CLOSE_SERVICE_RESTART, 'server shutting down')
      done()
    }
  })
}, { name: 'websocket', dependencies: ['config'] })
