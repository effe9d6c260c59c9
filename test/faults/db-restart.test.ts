/**
 * The database stops mid-traffic and comes back. While it is away sends get
 * UNAVAILABLE (REST 503, a websocket error with the clientMessageId) and no
 * ack, readiness is 503 naming the store, and no process exits; when it is
 * back the nodes serve again without a restart, and the clients' resends
 * store each message once.
 */
import t from 'tap'
import { api } from '../../bench/lib/workload.js'
import { assertVerdict, clusterWithTraffic, sleep } from './cluster.js'

t.test('the database stopped and started mid-traffic', async (t) => {
  const run = await clusterWithTraffic(t, 'db', 'faults-store')
  if (run === undefined) return
  const { cluster, w } = run
  const unavailable: string[] = []
  for (const d of w.devices) d.client.on('error', (f) => { if (f.code === 'UNAVAILABLE' && typeof f.clientMessageId === 'string') unavailable.push(f.clientMessageId) })

  const running = w.run(30)
  await sleep(1500)
  await cluster.db.stop('SIGKILL')
  await sleep(300)
  const [alice] = w.accounts
  const conversationId = w.conversationsOf(alice!.id)[0]!
  const rest = await fetch(`${cluster.urls[0]}/v1/conversations/${conversationId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice!.accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content: 'while the database is away', clientMessageId: 'rest-during-outage' })
  })
  t.equal(rest.status, 503, 'a REST send gets 503')
  t.match(await rest.json(), { statusCode: 503, code: 'UNAVAILABLE' }, 'with the contract code')
  const ready = await fetch(`${cluster.urls[1]}/health/ready`)
  t.equal(ready.status, 503, 'readiness is 503')
  t.match(await ready.json(), { status: 'unavailable', checks: { store: { status: 'down' }, broker: { status: 'up' } } }, 'naming the store')
  await sleep(2500)
  await cluster.db.start()
  const upAt = Date.now()
  await sleep(3000)
  w.stop()
  await running
  await w.drain()

  t.ok(unavailable.length > 0, `${unavailable.length} websocket sends got UNAVAILABLE with their clientMessageId`)
  const later = w.attempts.filter((a) => unavailable.includes(a.clientMessageId))
  t.ok(later.every((a) => a.ack !== undefined), 'and each was stored once it was resent')
  t.ok(w.attempts.some((a) => a.startedAt > upAt && a.ack !== undefined), 'sends after the return are acknowledged')
  // The REST send that failed is retried with its clientMessageId and stored once.
  const retried = await api<{ id: string }>(cluster.urls, alice!.accessToken, 'POST', `/v1/conversations/${conversationId}/messages`, { content: 'while the database is away', clientMessageId: 'rest-during-outage' })
  t.equal(retried.status, 201, 'the REST send succeeds when retried')
  assertVerdict(t, await w.verdict())
  for (const node of cluster.nodes) t.equal(node.starts, 1, `${node.name} never restarted`)
})

