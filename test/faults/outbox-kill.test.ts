/**
 * A node killed with SIGKILL while it holds claims on outgoing events: once
 * its leases run out the other node delivers what it held. Every event of an
 * acknowledged message reaches the receiver; none is lost.
 */
import { MongoClient } from 'mongodb'
import t from 'tap'
import { startReceiver } from '../receiver.js'
import { markSuiteRan } from '../services.js'
import { sleep, startCluster } from './cluster.js'

const ADMIN = 'admin-token-for-the-outbox-fault-test-0123'

t.test('a node killed with SIGKILL while holding claims: every event is still delivered', async (t) => {
  const cluster = await startCluster(t, 'outbox', {
    ADMIN_API_TOKEN: ADMIN,
    EVENT_ENDPOINTS_ALLOW_PRIVATE: 'true',
    EVENT_RETRY_BASE_MS: '200',
    EVENT_RETRY_MAX_MS: '1000',
    EVENT_DELIVERY_TIMEOUT_MS: '1000',
    EVENT_LEASE_MS: '3000',
    EVENT_POLL_INTERVAL_MS: '100',
    EVENT_MAX_IN_FLIGHT: '3'
  })
  if (cluster === undefined) return
  markSuiteRan(t, 'faults-outbox')
  const [a, b] = cluster.urls as [string, string]
  const receiver = await startReceiver(t)
  // A slow receiver: each node holds its in-flight deliveries (and their claims) for a while.
  receiver.answer = (_r, _n, res) => { setTimeout(() => res.writeHead(200).end(), 250) }
  const call = async (base: string, method: string, path: string, body: unknown, token?: string) => {
    const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) }, body: JSON.stringify(body) })
    return { status: res.status, body: await res.json() as any } // eslint-disable-line @typescript-eslint/no-explicit-any
  }
  const endpoint = await call(a, 'POST', '/v1/admin/event-endpoints', { url: receiver.url, events: ['message.created'] }, ADMIN)
  t.equal(endpoint.status, 201)
  const users = []
  for (const name of ['ana', 'ben']) users.push((await call(a, 'POST', '/v1/auth/register', { username: `${name}${Date.now() % 100000}`, email: `${name}${Date.now()}@example.com`, password: 'correct horse battery' }, undefined)).body)
  const [ana, ben] = users
  const cid = (await call(a, 'POST', '/v1/conversations', { type: 'direct', participantIds: [ben.user.id] }, ana.accessToken)).body.id
  await sleep(1200) // every node reads the endpoint list again

  const acked: string[] = []
  const send = async (base: string, i: number) => {
    const res = await call(base, 'POST', `/v1/conversations/${cid}/messages`, { content: `event ${i}`, clientMessageId: `ob-${i}` }, ana.accessToken)
    if (res.status === 201) acked.push(res.body.id)
  }
  for (let i = 0; i < 30; i++) await send(i % 2 === 0 ? a : b, i)
  const db = new MongoClient(cluster.db.url)
  t.teardown(() => db.close())
  const leased = await db.db('chat').collection('deliveries').countDocuments({ leaseUntil: { $gt: new Date() } })
  t.ok(leased > 0, `claims are held when the node dies (${leased} deliveries leased)`)
  await cluster.nodes[1]!.stop('SIGKILL')
  for (let i = 30; i < 45; i++) await send(a, i)
  t.equal(acked.length, 45, 'every send was acknowledged')

  const events = await receiver.until((es) => acked.every((id) => es.some((e) => e.data.id === id)), 60_000)
  const delivered = new Set(events.map((e) => e.data.id as string))
  t.equal(acked.filter((id) => !delivered.has(id)).length, 0, 'every acknowledged message\'s event was delivered')
  // What the dead node had in flight (answered, never settled) is sent again once its claims run out.
  let items: Array<{ status: string }> = []
  for (let i = 0; i < 100; i++) {
    const log = await fetch(`${a}/v1/admin/event-endpoints/${endpoint.body.id}/deliveries?limit=100`, { headers: { authorization: `Bearer ${ADMIN}` } })
    items = (await log.json() as { items: Array<{ status: string }> }).items
    if (items.length === 45 && items.every((d) => d.status === 'delivered')) break
    await sleep(200)
  }
  t.equal(items.length, 45, 'one delivery per event')
  t.ok(items.every((d) => d.status === 'delivered'), 'the log shows every one delivered')
  const total = receiver.received.length
  t.comment(`${total} POSTs for ${delivered.size} events (${total - delivered.size} sent again after the kill: at least once, as promised)`)
})
