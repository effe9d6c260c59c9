import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'

/**
 * The only file that listens. Starts from the environment, says which adapters
 * it runs on, and shuts down with grace on SIGTERM/SIGINT: it stops accepting,
 * closes sockets with 1012 so clients reconnect elsewhere, then closes the
 * store and broker.
 */
let config: Config
try {
  config = loadConfig()
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message)
    process.exit(1)
  }
  throw err
}

const app = await buildApp(config)

if (config.jwtSecretGenerated) {
  app.log.warn('JWT_SECRET is not set: using a random secret for this process; tokens will not survive a restart or work across nodes')
}
const storeSays = config.MONGODB_URL === undefined ? 'embedded memory store' : 'MongoDB (MONGODB_URL)'
const sharedRedis = config.REDIS_URL !== undefined || config.REDIS_CLUSTER_NODES !== undefined
const brokerSays = config.REDIS_CLUSTER_NODES !== undefined ? 'Redis Cluster (REDIS_CLUSTER_NODES, sharded pub/sub)' : config.REDIS_URL !== undefined ? 'Redis (REDIS_URL)' : 'in-process broker'
if (config.MONGODB_URL === undefined || !sharedRedis) {
  app.log.warn(
    `running on the ${storeSays} and the ${brokerSays}: ` +
    `${config.MONGODB_URL === undefined ? 'nothing is durable (all data is lost on exit)' : 'data is durable'}, ` +
    `${!sharedRedis ? 'and this node cannot be joined by others (single node)' : 'and nodes share events'}. ` +
    'Set MONGODB_URL and REDIS_URL (or REDIS_CLUSTER_NODES) for production.'
  )
}
app.log.info({ store: app.store.kind, broker: app.broker.kind, nodeId: app.broker.nodeId }, `store: ${storeSays}; broker: ${brokerSays}`)

closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an uncaught error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})

try {
  await app.listen({ port: config.PORT, host: config.HOST })
} catch (err) {
  app.log.error({ err }, 'could not listen')
  process.exit(1)
}
