/** cluster-key-slot (the slot function ioredis uses) ships no types. */
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0-16383) of a key or shard channel, honouring {hash tags}. */
  export default function calculateSlot (key: string | Buffer): number
}
