import { DependencyUnavailableError } from '../domain/errors.js'
import type { Broker } from './port.js'
import { createMemoryBroker } from './memory/index.js'

/**
 * Rate limits that outlive a broker outage: counters and buckets are shared
 * through the broker while it answers, and counted in this node's memory
 * while it does not. A Redis restart then loosens limits to per node for a
 * while instead of refusing every send and every websocket frame.
 */
export function withLocalLimits (broker: Broker, onFallback?: (err: unknown) => void): Broker {
  const local = createMemoryBroker({ nodeId: broker.nodeId })
  const fallback = async <T>(shared: () => Promise<T>, own: () => Promise<T>): Promise<T> => {
    try {
      return await shared()
    } catch (err) {
      if (!(err instanceof DependencyUnavailableError)) throw err
      onFallback?.(err)
      return await own()
    }
  }
  return {
    ...broker,
    counters: {
      hit: (key, windowMs) => fallback(() => broker.counters.hit(key, windowMs), () => local.counters.hit(key, windowMs))
    },
    buckets: {
      take: (key, capacity, perSecond) => fallback(() => broker.buckets.take(key, capacity, perSecond), () => local.buckets.take(key, capacity, perSecond))
    }
  }
}
