/**
 * The broker's channels, named once. A node subscribes to the channels of the
 * users it holds and of their conversations; `presence` and `membership` are
 * subscribed by every node.
 */
export const channels = {
  /** Events for a conversation's participants: messages, typing, receipts. */
  conversation: (id: string) => `conversation:${id}`,
  /** Events for one user's devices: membership changes. */
  user: (id: string) => `user:${id}`,
  /** Users coming online and going offline. */
  presence: 'presence',
  /** A membership ended: every node forgets its cached answer. */
  membership: 'membership',
  /** Between brokers: a node that recovered from an outage tells the others (not seen above the broker). */
  control: '_control'
} as const

export type ChannelKind = 'conversation' | 'user' | 'presence' | 'membership' | 'control' | 'other'

const PREFIXED: Array<[string, ChannelKind]> = [['conversation:', 'conversation'], ['user:', 'user']]

/** What a channel is, and the id it names (conversation and user channels). */
export function parseChannel (channel: string): { kind: ChannelKind, id?: string } {
  for (const [prefix, kind] of PREFIXED) if (channel.startsWith(prefix)) return { kind, id: channel.slice(prefix.length) }
  if (channel === channels.presence) return { kind: 'presence' }
  if (channel === channels.membership) return { kind: 'membership' }
  if (channel === channels.control) return { kind: 'control' }
  return { kind: 'other' }
}
