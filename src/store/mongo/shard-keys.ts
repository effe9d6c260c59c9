/**
 * Sharding made safe: the shard keys a sharded deployment uses
 * (docs/scaling.md has the commands), and an audit of the driver's commands
 * that names every query or update on a sharded collection that does not
 * say its shard key, and so would go to every shard (scatter-gather).
 *
 * The few that do so on purpose carry their reason as the command's
 * `comment` (SCATTER_GATHER below), which the audit accepts and which a
 * deployment sees in its slow-query log and profiler too.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CommandStartedEvent, Document, MongoClient } from 'mongodb'

/**
 * Collection -> the field its shard key starts with: every query on it
 * must name one value or a few. (`conversations` stays unsharded while its
 * unique directKey index does not start with `_id`: docs/scaling.md.)
 */
export const SHARD_KEYS: Readonly<Record<string, string>> = { messages: 'conversationId', memberships: 'conversationId' }

const SCATTER = 'scatter-gather: '

/** The queries that go to every shard on purpose, and why; each is passed as its command's comment. */
export const SCATTER_GATHER = {
  conversationsOfUser: `${SCATTER}a user's conversations are the memberships with their userId, one indexed read on each shard, when a socket opens and a list is asked for`,
  searchBackfill: `${SCATTER}the search-word backfill walks messages stored before search existed, a batch at a time, until none is left`,
  keyRotation: `${SCATTER}key rotation walks the whole collection, by _id, once per rotation`
} as const

/** Whether a filter pins the shard key: to one value, or to a list ($in), at its top or in an $and. */
function namesKey (filter: unknown, key: string): boolean {
  if (filter === null || typeof filter !== 'object') return false
  const f = filter as Record<string, unknown>
  const v = f[key]
  if (typeof v === 'string') return true
  if (v !== null && typeof v === 'object' && (typeof (v as Record<string, unknown>).$eq === 'string' || Array.isArray((v as Record<string, unknown>).$in))) return true
  return Array.isArray(f.$and) && f.$and.some((part) => namesKey(part, key))
}

/** The filters a command applies to its collection (each update and delete statement's, a count's, an aggregation's first $match). */
function filtersOf (name: string, command: Document): unknown[] {
  switch (name) {
    case 'find': return [command.filter ?? {}]
    case 'findAndModify': return [command.query ?? {}]
    case 'count': case 'distinct': return [command.query ?? {}]
    case 'update': return (command.updates as Document[] | undefined ?? []).map((u) => u.q)
    case 'delete': return (command.deletes as Document[] | undefined ?? []).map((d) => d.q)
    case 'aggregate': return [(command.pipeline as Document[] | undefined)?.[0]?.$match ?? {}]
    case 'insert': return (command.documents as Document[] | undefined ?? [])
    default: return []
  }
}

/**
 * What is wrong with a command for a sharded deployment, or undefined: a
 * query, update, delete or aggregation on `messages` or `memberships` whose
 * filter lacks `conversationId` (an insert whose document lacks it), unless
 * its comment names it a scatter-gather on purpose.
 */
export function shardKeyProblem (name: string, command: Document): string | undefined {
  const collection = command[name]
  if (typeof collection !== 'string' || !Object.hasOwn(SHARD_KEYS, collection)) return undefined
  const key = SHARD_KEYS[collection]
  if (key === undefined) return undefined
  if (typeof command.comment === 'string' && command.comment.startsWith(SCATTER)) return undefined
  const missing = filtersOf(name, command).filter((f) => name === 'insert' ? typeof (f as Document)[key] !== 'string' : !namesKey(f, key))
  if (missing.length === 0) return undefined
  return `${name} on ${collection} without ${key}: ${JSON.stringify(missing[0], (_k, v: unknown) => (typeof v === 'string' && v.length > 40 ? `${v.slice(0, 40)}…` : v)).slice(0, 300)}`
}

/**
 * Watches every command the client sends (the driver's command monitoring):
 * each problem is appended to `<dir>/<pid>.problems`, and how many commands
 * were checked to `<dir>/<pid>.checked` when the process exits. The test
 * run sets it on every store it opens and fails on any problem
 * (scripts/test.mjs); a deployment can turn it on in staging
 * (MONGODB_SHARD_KEY_AUDIT) before sharding.
 */
export function auditShardKeys (client: MongoClient, dir: string): void {
  mkdirSync(dir, { recursive: true })
  if (!audited.has(dir)) {
    audited.set(dir, 0)
    process.once('exit', () => { writeFileSync(join(dir, `${process.pid}.checked`), String(audited.get(dir))) })
  }
  client.on('commandStarted', (event: CommandStartedEvent) => {
    audited.set(dir, audited.get(dir)! + 1)
    const problem = shardKeyProblem(event.commandName, event.command)
    if (problem !== undefined) appendFileSync(join(dir, `${process.pid}.problems`), `${problem}\n`)
  })
}

/** Audit directory -> commands checked by this process's stores (several stores in one process: one count). */
const audited = new Map<string, number>()
