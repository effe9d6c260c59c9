/**
 * Redis stops mid-traffic and comes back empty. Nodes keep serving their own
 * sockets (sends are acknowledged, readiness says degraded), resubscribe when
 * it returns and tell their clients to sync; nothing acknowledged is lost or
 * duplicated.
 */
import t from 'tap'
import { assertVerdict, clusterWithTraffic, sleep } from './cluster.js'

t.test('Redis stopped and started mid-traffic', async (t) => {
  const run = await clusterWithTraffic(t, 'redis', 'faults-redis')
  if (run === undefined) return
  const { cluster, w } = run
  const syncRequired: number[] = []
  for (const d of w.devices) d.client.on('frame', (f) => { if (f.type === 'sync_required') syncRequired.push(Date.now()) })

  const running = w.run(30)
  await sleep(1500)
  await cluster.redis.stop('SIGKILL')
  const downAt = Date.now()
  await sleep(500)
  const ready = await fetch(`${cluster.urls[0]}/health/ready`)
  const body = await ready.json() as { status: string, checks: { broker: { status: string } } }
  t.equal(ready.status, 200, 'a node without Redis still reports itself able to serve')
  t.match(body, { status: 'degraded', checks: { broker: { status: 'down' }, store: { status: 'up' } } }, 'and says the broker is down')
  await sleep(2500)
  await cluster.redis.start()
  const upAt = Date.now()
  await sleep(3000)
  w.stop()
  await running
  await w.drain()

  const duringOutage = w.attempts.filter((a) => a.startedAt > downAt + 200 && a.startedAt < upAt && a.ack !== undefined && a.ackMs! < upAt - a.startedAt)
  t.ok(duringOutage.length > 0, `${duringOutage.length} sends were acknowledged while Redis was down`)
  t.ok(syncRequired.some((at) => at >= upAt), 'clients were told to sync after Redis came back')
  t.equal((await fetch(`${cluster.urls[1]}/health/ready`)).status, 200, 'ready again')
  assertVerdict(t, await w.verdict())
  for (const node of cluster.nodes) t.equal(node.starts, 1, `${node.name} never restarted`)
})
