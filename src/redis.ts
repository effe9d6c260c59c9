/**
 * The connection the Redis adapters share (broker, presence, limits,
 * revocations): one Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES).
 * Every key the adapters write is a single key per command (or per script),
 * so a cluster needs no hash tags: each command goes to the shard owning
 * its key. Pub/sub on a cluster is sharded (src/broker/redis/sharded.ts).
 */
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis'

export type RedisClient = Redis | Cluster

export const isCluster = (client: RedisClient): client is Cluster => client.isCluster

/** How often a cluster client asks for the slot map unprompted (it also asks after a redirection or a lost node). */
const SLOTS_REFRESH_MS = 2000

/**
 * The seed nodes of REDIS_CLUSTER_NODES ("host:port" or redis[s]:// URLs,
 * comma-separated) and the options every node connection takes: the
 * credentials and TLS of the first URL that has them.
 */
export function clusterSeeds (spec: string): { nodes: ClusterNode[], redisOptions: RedisOptions } {
  const nodes: ClusterNode[] = []
  const redisOptions: RedisOptions = {}
  for (const entry of spec.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const url = new URL(/^rediss?:\/\//.test(entry) ? entry : `redis://${entry}`)
    nodes.push({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port === '' ? 6379 : url.port) })
    if (url.password !== '' && redisOptions.password === undefined) {
      redisOptions.password = decodeURIComponent(url.password)
      if (url.username !== '') redisOptions.username = decodeURIComponent(url.username)
    }
    if (url.protocol === 'rediss:') redisOptions.tls = {}
  }
  return { nodes, redisOptions }
}

/**
 * The client the config names. No offline queue: while Redis (or the shard
 * a key lives on) is away, commands fail at once instead of holding sends;
 * the adapters say so (DependencyUnavailableError) and recover when it is back.
 */
export function connectRedis (config: { REDIS_URL?: string | undefined, REDIS_CLUSTER_NODES?: string | undefined }, connectionName: string): RedisClient | undefined {
  if (config.REDIS_URL !== undefined) {
    return new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, enableOfflineQueue: false, connectionName })
  }
  if (config.REDIS_CLUSTER_NODES === undefined) return undefined
  const { nodes, redisOptions } = clusterSeeds(config.REDIS_CLUSTER_NODES)
  return new Cluster(nodes, {
    redisOptions: { ...redisOptions, connectionName, maxRetriesPerRequest: 2 },
    enableOfflineQueue: false,
    slotsRefreshInterval: SLOTS_REFRESH_MS,
    // While a master fails over, a command to its slots is retried on the new map for about two seconds.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    maxRedirections: 10
  })
}
