/**
 * The benchmark harness at smoke size, so that it cannot rot: every scenario
 * against every server, the exactly-once check in each, results written.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { root } from '../../scripts/services.mjs'

t.test('npm run bench -- --smoke: every scenario, both baselines, exactly once', async (t) => {
  if (process.env.TEST_FERRETDB_BIN === undefined && process.env.CI !== 'true') {
    void t.test('bench smoke', { skip: 'run through npm test (it provides the FerretDB harness)' }, () => {})
    return
  }
  const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'))
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'run.ts'), '--smoke', '--out', out], { cwd: root, encoding: 'utf8', timeout: 240_000 })
  t.equal(run.status, 0, run.status === 0 ? 'the harness ran' : `the harness failed: ${run.stderr.slice(-2000)}`)
  const { results, machine } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
  t.ok(machine.cores > 0 && typeof machine.node === 'string', 'the machine is recorded')
  t.same(Object.keys(results).sort(), ['Socket.IO peer', 'ours (2 nodes)', 'ours (2 nodes, Redis Cluster)', 'ours (memory)', 'ours (memory, encrypted)', 'ours (mongo+redis)', 'ours (mongo+redis, encrypted)', 'ws limit'], 'every server')
  for (const name of ['ours (memory)', 'ours (memory, encrypted)', 'ours (mongo+redis)', 'ours (mongo+redis, encrypted)']) {
    const e = results[name].encryption
    t.ok(e.send.exactlyOnce && e.history.p50Ms > 0 && e.encrypted === name.includes('encrypted'), `${name}: sends and history, encryption ${e.encrypted ? 'on' : 'off'}`)
  }
  for (const name of ['ws limit', 'Socket.IO peer', 'ours (memory)', 'ours (mongo+redis)']) {
    const r = results[name]
    t.ok(r.fanout.steps.length > 0 && r.fanout.exactlyOnce, `${name}: fan-out, exactly once`)
    t.ok(r.directs.exactlyOnce && r.directs.acked === r.directs.sent, `${name}: directs, exactly once`)
    t.ok(r.churn.connects > 0 && r.churn.failed === 0, `${name}: churn`)
    t.ok(r.idle.connections > 0 && typeof r.idle.rssPerConnectionKb === 'number' && typeof r.idle.eventLoopDelayP99Ms === 'number', `${name}: idle, measured inside the server`)
  }
  for (const name of ['ours (memory)', 'ours (mongo+redis)']) t.ok(results[name].history.newestPage.requestsPerSecond > 0 && results[name].history.newestPage.non2xx === 0, `${name}: history`)
  for (const name of ['ours (memory)', 'ours (mongo+redis)']) {
    const { message, reaction } = results[name].reactions
    t.ok(message.exactlyOnce && reaction.exactlyOnce && reaction.acked === reaction.sent && reaction.deliveries === reaction.sent * results[name].reactions.members, `${name}: reactions beside messages, each delivered to every member exactly once`)
    t.ok(message.serverCpuUsPerDelivery > 0 && reaction.serverCpuUsPerDelivery > 0, `${name}: the server's CPU per delivery, measured for both`)
  }
  for (const name of ['ours (memory)', 'ours (mongo+redis)']) {
    const s = results[name].search
    t.ok(['oneWord', 'twoWords', 'phrase', 'fromOnly'].every((k) => s[k].queries > 0 && s[k].p50Ms > 0), `${name}: search latency for each kind of query`)
    t.ok(s.oneWord.meanHits > 0 && s.fromOnly.meanHits > 0, `${name}: the searches find what was seeded`)
  }
  t.ok(results['ours (2 nodes)'].directsCrossNode.exactlyOnce && results['ours (2 nodes)'].directsLightCrossNode.exactlyOnce, 'cross-node directs, exactly once')
  t.ok(results['ours (mongo+redis)'].directsLight.exactlyOnce, 'one-node directs under capacity, exactly once')
  for (const name of ['ours (2 nodes)', 'ours (2 nodes, Redis Cluster)']) {
    const { fanoutCrossNode, split } = results[name]
    t.ok(fanoutCrossNode.exactlyOnce && split.exactlyOnce, `${name}: fan-out across nodes and split groups, exactly once`)
    const [own0, own1] = split.sentPerNodeGroups as [number, number]
    const got = (split.nodes as Array<{ received: Record<string, number> }>).map((n) => n.received.conversation ?? 0)
    t.ok(got[0]! >= own0 && got[0]! < own0 + own1 && got[1]! >= own1 && got[1]! < own0 + own1, `${name}: each node received its own groups' publications and not the other's (${got.join(', ')} of ${own0}, ${own1})`)
  }
  const shards = results['ours (2 nodes, Redis Cluster)'].split.shards as Array<{ busPublish: number, busPublishShard: number }>
  t.equal(shards.length, 3, 'three masters reported')
  t.ok(shards.every((x) => x.busPublish === 0) && shards.some((x) => x.busPublishShard > 0), 'publications crossed the cluster bus only as sharded ones (to the owner\'s replica), never as classic broadcasts')
  t.match(readFileSync(join(out, 'RESULTS.md'), 'utf8'), /Exactly once in every run: \*\*yes\*\*/, 'RESULTS.md says so')
})
