/**
 * A node is killed with SIGKILL mid-traffic: its clients reconnect to the
 * other node, resend what was not acknowledged and sync; nothing acknowledged
 * is lost or stored twice. The node comes back and serves again.
 */
import t from 'tap'
import { assertVerdict, clusterWithTraffic, sleep } from './cluster.js'

t.test('a node killed with SIGKILL mid-traffic, then started again', async (t) => {
  const run = await clusterWithTraffic(t, 'node', 'faults-node')
  if (run === undefined) return
  const { cluster, w } = run

  const running = w.run(30)
  await sleep(1500)
  const [, b] = cluster.nodes
  await b!.stop('SIGKILL')
  const killedAt = Date.now()
  await sleep(3000)
  t.ok(w.devices.every((d) => d.client.state === 'open'), 'every device is connected again (to the surviving node)')
  t.ok(w.attempts.some((a) => a.startedAt > killedAt + 1000 && a.ack !== undefined), 'sends go on')
  await b!.start()
  await sleep(1500)
  w.stop()
  await running
  await w.drain()

  const v = await w.verdict()
  t.ok(v.reconnects >= w.devices.length / 2, `${v.reconnects} reconnects (half the devices were on the killed node)`)
  assertVerdict(t, v)
  // Presence: leases of the dead node expired, and the users are online through their surviving sockets.
  const [first] = w.accounts
  const presence = await fetch(`${cluster.urls[0]}/v1/presence?userIds=${w.accounts.map((a) => a.id).join(',')}`, { headers: { authorization: `Bearer ${first!.accessToken}` } })
  const items = (await presence.json() as { items: Array<{ status: string }> }).items
  t.ok(items.every((p) => p.status === 'online'), 'every user with a live device is online')
  w.close()
  await sleep(2500) // past the lease (1.5 s): offline once every device is gone
  const after = await fetch(`${cluster.urls[0]}/v1/presence?userIds=${w.accounts.map((a) => a.id).join(',')}`, { headers: { authorization: `Bearer ${first!.accessToken}` } })
  t.ok((await after.json() as { items: Array<{ status: string }> }).items.every((p) => p.status === 'offline'), 'and offline when they are gone')
})
