/**
 * Two nodes on a Redis Cluster of six processes; the master that owns a
 * watched conversation's channel is killed mid-traffic and its replica
 * takes over. Nodes place their subscriptions on the new master and tell
 * their clients to sync; live delivery, presence and shared rate limits
 * carry on; nothing acknowledged is lost or duplicated.
 */
import calculateSlot from 'cluster-key-slot'
import t from 'tap'
import { api, apiOk } from '../../bench/lib/workload.js'
import { WsClient } from '../ws-client.js'
import { markSuiteRan } from '../services.js'
import { assertVerdict, sleep, startClusterOnRedisCluster, Workload } from './cluster.js'

/** Limits on, as in production, loose enough for the traffic; logins per name tight, to be counted across the nodes. */
const LIMITS = {
  RATE_LIMITS: 'on',
  RATE_LIMIT_LOGIN_NAME: '4/60000',
  RATE_LIMIT_LOGIN_IP: '100000/60000',
  RATE_LIMIT_REGISTER_IP: '100000/60000',
  RATE_LIMIT_REFRESH_IP: '100000/60000',
  RATE_LIMIT_SEND_DIRECT: '100000/60000',
  RATE_LIMIT_SEND_GROUP: '100000/60000',
  RATE_LIMIT_CONVERSATION_CREATE: '100000/60000'
}
const PREFIX = 'chat:'

interface Session { user: { id: string }, accessToken: string }
const register = (urls: string[], name: string) => apiOk<Session>(urls, undefined, 'POST', '/v1/auth/register', { username: name, email: `${name}@faults.test`, password: 'fault password 1' })

t.test('a Redis Cluster master killed mid-traffic: a replica takes over and nothing is lost', async (t) => {
  const cluster = await startClusterOnRedisCluster(t, 'rcluster', LIMITS)
  if (cluster === undefined) return
  markSuiteRan(t, 'faults-redis-cluster')
  const { redis, urls } = cluster
  const [onA, onB] = [[urls[0]!], [urls[1]!]]

  // A watched conversation: its sender posts on node A, its watcher listens on node B with a plain socket
  // (no client library, no sync of its own), connected before the kill.
  const sender = await register(onA, 'rcsender')
  const watcher = await register(onA, 'rcwatcher')
  const comer = await register(onA, 'rccomer')
  const watched = (await apiOk<{ id: string }>(onA, sender.accessToken, 'POST', '/v1/conversations', { type: 'direct', participantIds: [watcher.user.id] })).id
  await apiOk(onA, comer.accessToken, 'POST', '/v1/conversations', { type: 'direct', participantIds: [watcher.user.id] })
  const victim = redis.masterOf(calculateSlot(`${PREFIX}conversation:${watched}`))
  // A login name whose limit counter lives on the master that will be killed.
  let login = ''
  for (let i = 0; login === ''; i++) if (redis.masterOf(calculateSlot(`${PREFIX}limit:loginName:name:rcnobody${i}`)) === victim) login = `rcnobody${i}`
  const wrongLogin = async (node: string[]) => (await api(node, undefined, 'POST', '/v1/auth/login', { login, password: 'not the password' })).status

  const ws = await WsClient.connect(urls[1]!, watcher.accessToken)
  t.teardown(() => ws.close())
  await ws.roundTrip()
  await apiOk(onA, sender.accessToken, 'POST', `/v1/conversations/${watched}/messages`, { content: 'before', clientMessageId: 'before' })
  await ws.waitFor('new_message', (f) => f.message.content === 'before', 1, 5000)
  t.same([await wrongLogin(onA), await wrongLogin(onB)], [401, 401], 'two wrong logins counted before the kill, one on each node')

  const w = await Workload.create({ urls, users: 6, devicesPerUser: 2, prefix: 'rc', changes: 0.2 })
  t.teardown(() => w.close())
  const syncRequired: number[] = []
  for (const d of w.devices) d.client.on('frame', (f) => { if (f.type === 'sync_required') syncRequired.push(Date.now()) })
  const running = w.run(30)
  await sleep(1500)
  await redis.kill(victim)
  const killedAt = Date.now()
  await redis.failedOver(victim)
  t.comment(`a replica took over ${Date.now() - killedAt} ms after the kill`)
  // The nodes see the new slot map within its refresh interval (2 s), then place their channels on the new master.
  await sleep(4000)

  const [told] = await ws.waitFor('sync_required', () => true, 1, 10_000)
  t.ok(told, 'the watcher, whose channel lived on the killed master, was told to sync')
  await apiOk(onA, sender.accessToken, 'POST', `/v1/conversations/${watched}/messages`, { content: 'after', clientMessageId: 'after' })
  const [after] = await ws.waitFor('new_message', (f) => f.message.content === 'after', 1, 5000)
  t.ok(after, 'a message sent on node A after the failover reaches the socket on node B live: its channel was subscribed on the new master')

  const comerWs = await WsClient.connect(urls[0]!, comer.accessToken)
  const [online] = await ws.waitFor('presence_update', (f) => f.userId === comer.user.id && f.status === 'online', 1, 5000)
  t.ok(online, 'presence after the failover: a user connecting on node A is seen online on node B')
  const seen = await apiOk<{ items: Array<{ userId: string, status: string }> }>(onB, watcher.accessToken, 'GET', `/v1/presence?userIds=${comer.user.id},${sender.user.id}`)
  t.same(seen.items.map((p) => [p.userId, p.status]), [[comer.user.id, 'online'], [sender.user.id, 'offline']], 'and GET /v1/presence on node B agrees')
  comerWs.close()
  await ws.waitFor('presence_update', (f) => f.userId === comer.user.id && f.status === 'offline', 1, 5000)

  t.same([await wrongLogin(onA), await wrongLogin(onB), await wrongLogin(onA)], [401, 401, 429],
    'the login limit (4 a minute) carries on across the failover and both nodes: the fifth attempt is refused')

  w.stop()
  await running
  await w.drain()
  t.ok(syncRequired.some((at) => at >= killedAt), 'the workload\'s clients were told to sync after the failover')
  assertVerdict(t, await w.verdict())
  for (const node of cluster.nodes) t.equal(node.starts, 1, `${node.name} never restarted`)
})
