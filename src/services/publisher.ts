import type { Broker } from '../broker/port.js'
import type { LiveEvent } from '../domain/events.js'

/** Publishes a live event (or another node-to-node notice) on a channel; never fails (see createPublisher). */
export type Publish = (channel: string, payload: LiveEvent | Record<string, unknown>) => Promise<void>

/**
 * Publishing after a write was acknowledged: a broker failure never undoes
 * a stored change. It is reported, and clients catch up by sync.
 */
export function createPublisher (broker: Broker, onError?: (err: unknown, channel: string) => void): Publish {
  return async (channel, payload) => {
    try {
      await broker.publish(channel, payload)
    } catch (err) {
      onError?.(err, channel)
    }
  }
}
