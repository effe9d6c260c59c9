/**
 * Random interleavings of sends, edits, deletes, reads and reconnects across
 * two nodes: after a final sync every device holds exactly what REST returns,
 * and every unread count equals a recount of the history (others' messages
 * above the reader's watermark that are not deleted).
 */
import { isDeepStrictEqual } from 'node:util'
import t from 'tap'
import fc from 'fast-check'
import { client, register, type Client } from '../helper.js'
import { forEachDeployment } from '../realtime/nodes.js'
import { Device, restHolds } from './device.js'

const who = fc.integer({ min: 0, max: 2 })
const node = fc.integer({ min: 0, max: 1 })
const pick = fc.nat()
const command = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), who, node, direct: fc.boolean() }),
  fc.record({ kind: fc.constant('edit' as const), who, node, pick }),
  fc.record({ kind: fc.constant('delete' as const), who, node, pick }),
  fc.record({ kind: fc.constant('read' as const), who, node, direct: fc.boolean(), share: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('reconnect' as const), who, node })
)

/** Others' messages above the watermark that are not deleted, from REST's history and participants. */
async function recount (api: Client, conversationId: string): Promise<number> {
  const participants = (await api.get(`/v1/conversations/${conversationId}/participants`)).body.items as Array<{ userId: string, readSeq: number }>
  const readSeq = participants.find((p) => p.userId === api.user.id)!.readSeq
  const history = (await api.get(`/v1/conversations/${conversationId}/messages?limit=100&afterSeq=${readSeq}`)).body.items as Array<{ senderId: string, deletedAt?: string }>
  return history.filter((m) => m.senderId !== api.user.id && m.deletedAt === undefined).length
}

forEachDeployment(t, 'random sends, edits, deletes, reads and reconnects: every device ends with what REST returns; unread counts are recounts', async (t, nodes, deployment) => {
  let runs = 0
  await fc.assert(fc.asyncProperty(fc.array(command, { minLength: 4, maxLength: deployment === 'memory' ? 30 : 16 }), async (commands) => {
    runs++
    const people = [await register(nodes[0]!.app, 'prop'), await register(nodes[0]!.app, 'prop'), await register(nodes[0]!.app, 'prop')]
    const apis = (n: number) => people.map((u) => client(nodes[n]!.app, u))
    const group = (await apis(0)[0]!.post('/v1/conversations', { type: 'group', name: 'p', participantIds: [people[1]!.id, people[2]!.id] })).body.id as string
    const direct = (await apis(0)[0]!.post('/v1/conversations', { type: 'direct', participantIds: [people[1]!.id] })).body.id as string
    const devices = people.map((u) => new Device(() => u.accessToken))
    // Each device starts in step (a device with no cursors is given what follows the user's delivered
    // watermark, and loads older history over REST): from here on it learns only from syncs.
    for (const [i, device] of devices.entries()) await device.sync(nodes[i % 2]!.base)
    /** Each person's messages: [conversationId, messageId]. */
    const own: Array<Array<[string, string]>> = [[], [], []]
    const conversationOf = (w: number, wantDirect: boolean) => (wantDirect && w < 2 ? direct : group)
    for (const c of commands) {
      const api = apis(c.node)[c.who]!
      if (c.kind === 'send') {
        const id = conversationOf(c.who, c.direct)
        const res = await api.post(`/v1/conversations/${id}/messages`, { content: `m${runs}-${own[c.who]!.length}` })
        if (res.status !== 201) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`)
        own[c.who]!.push([id, res.body.id])
      } else if (c.kind === 'edit' || c.kind === 'delete') {
        const mine = own[c.who]!
        if (mine.length === 0) continue
        const [id, messageId] = mine[c.pick % mine.length]!
        const res = c.kind === 'edit'
          ? await api.patch(`/v1/conversations/${id}/messages/${messageId}`, { content: `edited ${c.pick}` })
          : await api.del(`/v1/conversations/${id}/messages/${messageId}`)
        if (![200, 204, 409].includes(res.status)) throw new Error(`${c.kind}: ${res.status}`)
      } else if (c.kind === 'read') {
        const id = conversationOf(c.who, c.direct)
        const lastSeq = (await api.get(`/v1/conversations/${id}`)).body.lastSeq as number
        await api.post(`/v1/conversations/${id}/read`, { seq: Math.floor(c.share * lastSeq) })
      } else {
        await devices[c.who]!.sync(nodes[c.node]!.base)
      }
    }
    for (const [i, device] of devices.entries()) {
      await device.sync(nodes[i % 2]!.base)
      const rest = await restHolds(apis(0)[i]!)
      if (!isDeepStrictEqual(device.held(), rest)) {
        t.same(device.held(), rest, `device ${i} after ${JSON.stringify(commands)}`)
        return false
      }
      await device.sync(nodes[(i + 1) % 2]!.base)
      if (device.lastReplay.length > 0) throw new Error(`a second sync replayed ${device.lastReplay.length} frames`)
      for (const id of [group, ...(i < 2 ? [direct] : [])]) {
        const counted = (await apis(i % 2)[i]!.get(`/v1/conversations/${id}`)).body.unreadCount
        const expected = await recount(apis(0)[i]!, id)
        if (counted !== expected) throw new Error(`unread ${counted} for person ${i} in ${id}, recount ${expected}`)
      }
    }
    return true
  }), {
    numRuns: deployment === 'memory' ? 25 : 5,
    endOnFailure: true,
    // Replays a failure: PROPERTY_SEED and PROPERTY_PATH from its report.
    ...(process.env.PROPERTY_SEED !== undefined && { seed: Number(process.env.PROPERTY_SEED), path: process.env.PROPERTY_PATH })
  })
  t.pass(`${runs} random runs`)
}, { env: { RATE_LIMIT_SEND_GROUP: '1000/60000' } }) // a person may send 30 group messages in a run, runs in a row within a minute
