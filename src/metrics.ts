import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Store } from './store/port.js'
import type { Broker } from './broker/port.js'
import { parseChannel } from './domain/channels.js'

/**
 * The Prometheus metrics of one app instance, in a registry of its own (so
 * several apps in one process, as in tests, never share counters).
 */
export function createMetrics () {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const m = {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds', help: 'HTTP request duration by route and status', labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry]
    }),
    wsConnections: new Gauge({ name: 'ws_connections', help: 'open websocket connections on this node', registers: [registry] }),
    wsOpened: new Counter({ name: 'ws_connections_opened_total', help: 'websocket connections accepted (authenticated and upgraded)', registers: [registry] }),
    wsRefused: new Counter({ name: 'ws_connections_refused_total', help: 'websocket connection attempts refused before the upgrade, by reason: unauthorized (no token, a bad or revoked one), too_many (WS_MAX_CONNECTIONS_PER_IP), other', labelNames: ['reason'] as const, registers: [registry] }),
    wsClosed: new Counter({ name: 'ws_disconnects_total', help: 'websocket connections ended, by reason: client (a close frame from the client), abnormal (gone without a close frame), heartbeat (no pong), slow_consumer (1013), token_expired (4401), policy (1008), too_big (1009), internal (1011), server_restart (1012)', labelNames: ['reason'] as const, registers: [registry] }),
    wsPingRtt: new Histogram({ name: 'ws_ping_rtt_seconds', help: 'from a heartbeat ping to its pong', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    wsDeliveryFailures: new Counter({ name: 'ws_deliveries_failed_total', help: 'frames not written to a socket, by reason: slow_consumer (its send buffer was full: the socket is closed with 1013), closed (it had closed)', labelNames: ['reason'] as const, registers: [registry] }),
    messageSize: new Histogram({ name: 'message_content_bytes', help: 'size of a sent message\'s content, in UTF-8 bytes', buckets: [16, 64, 256, 1024, 4096, 16384, 65536], registers: [registry] }),
    dependencyUp: new Gauge({ name: 'dependency_up', help: '1 when the dependency answered the node\'s last check (every 5 s, and each /health/ready), else 0', labelNames: ['dependency'] as const, registers: [registry] }),
    wsFrames: new Counter({ name: 'ws_frames_total', help: 'websocket frames by direction and type', labelNames: ['direction', 'type'] as const, registers: [registry] }),
    messagesSent: new Counter({ name: 'messages_sent_total', help: 'messages stored, by source', labelNames: ['source'] as const, registers: [registry] }),
    seqConflicts: new Counter({ name: 'message_seq_conflicts_total', help: 'inserts that found their seq taken by another node sending into the same conversation (each is retried with the next seq)', registers: [registry] }),
    sendToDeliver: new Histogram({
      name: 'message_send_to_deliver_seconds', help: 'from a message being stored to its write to a socket (across nodes: includes clock skew)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry]
    }),
    brokerPublished: new Counter({ name: 'broker_published_total', help: 'broker publications by channel kind', labelNames: ['channel'] as const, registers: [registry] }),
    brokerReceived: new Counter({ name: 'broker_received_total', help: 'broker messages handled by channel kind', labelNames: ['channel'] as const, registers: [registry] }),
    storeDuration: new Histogram({
      name: 'store_operation_duration_seconds', help: 'store operation latency', labelNames: ['repository', 'operation', 'outcome'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry]
    }),
    eventDeliveries: new Counter({ name: 'event_deliveries_total', help: 'attempts of outgoing event deliveries by outcome: delivered (2xx), retry (to be attempted again), failed (given up)', labelNames: ['outcome'] as const, registers: [registry] }),
    outboxDepth: new Gauge({ name: 'event_outbox_depth', help: 'outgoing events not yet expanded plus deliveries still pending (every node\'s, read from the store)', registers: [registry] }),
    outboxOldestAge: new Gauge({ name: 'event_outbox_oldest_age_seconds', help: 'age of the oldest undelivered event (0: none)', registers: [registry] }),
    rateLimited: new Counter({ name: 'rate_limit_rejections_total', help: 'requests and frames refused by a rate limit', labelNames: ['where'] as const, registers: [registry] })
  }
  return m
}

export type Metrics = ReturnType<typeof createMetrics>

const channelKind = (channel: string) => parseChannel(channel).kind

/** The same store, with every repository method timed. */
export function timedStore (store: Store, metrics: Metrics): Store {
  const repositories = ['users', 'refreshTokens', 'conversations', 'memberships', 'messages', 'webhooks'] as const
  const timed = { ...store } as Store
  for (const name of repositories) {
    const repo = store[name] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
    const wrapped: Record<string, unknown> = {}
    for (const [op, fn] of Object.entries(repo)) {
      wrapped[op] = async (...args: unknown[]) => {
        const end = metrics.storeDuration.startTimer({ repository: name, operation: op })
        try {
          const result = await fn.apply(repo, args)
          end({ outcome: 'ok' })
          return result
        } catch (err) {
          end({ outcome: 'error' })
          throw err
        }
      }
    }
    ;(timed as unknown as Record<string, unknown>)[name] = wrapped
  }
  return timed
}

/** The same broker, counting publications, and each received message once (however many handlers it has). */
export function countedBroker (broker: Broker, metrics: Metrics): Broker {
  broker.onMessage((message) => metrics.brokerReceived.inc({ channel: channelKind(message.channel) }))
  return {
    ...broker,
    publish: async (channel, payload) => {
      metrics.brokerPublished.inc({ channel: channelKind(channel) })
      return broker.publish(channel, payload)
    }
  }
}
