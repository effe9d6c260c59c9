/**
 * The alerts end to end: a real Prometheus (Debian's package) scrapes two
 * server nodes every second and evaluates deploy/prometheus/alerts.yml;
 * Redis is stopped, and ChatBrokerDown goes from pending to firing for both
 * nodes, then resolves once Redis is back.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { freePort, root, waitFor } from '../../scripts/services.mjs'
import { markSuiteRan, requireTool } from '../services.js'
import { startCluster } from '../faults/cluster.js'

interface Alert { labels: Record<string, string>, state: 'pending' | 'firing' }

t.test('Prometheus sees ChatBrokerDown fire when Redis stops, and resolve when it is back', async (t) => {
  if (requireTool(t, 'prometheus', 'prometheus') === undefined) return
  const cluster = await startCluster(t, 'prom')
  if (cluster === undefined) return
  markSuiteRan(t, 'alerts-e2e')
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'))
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    `rule_files: ['${join(root, 'deploy', 'prometheus', 'alerts.yml')}']`,
    'scrape_configs:',
    '  - job_name: chat',
    `    static_configs: [{ targets: [${cluster.nodes.map((n) => `'127.0.0.1:${n.port}'`).join(', ')}] }]`
  ].join('\n'))
  const port = await freePort()
  const prometheus: ChildProcess = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: 'ignore' })
  t.teardown(() => { prometheus.kill('SIGKILL') })
  const api = async <T>(path: string): Promise<T> => ((await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as { data: T }).data
  await waitFor(async () => { try { return (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok } catch { return false } }, 'prometheus', 30_000)
  await waitFor(async () => (await api<{ activeTargets: Array<{ health: string }> }>('/api/v1/targets')).activeTargets.filter((x) => x.health === 'up').length === 2, 'both nodes scraped', 30_000)
  const brokerDown = async () => (await api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts.filter((a) => a.labels.alertname === 'ChatBrokerDown')
  const others = async () => (await api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts.filter((a) => a.state === 'firing' && a.labels.alertname !== 'ChatBrokerDown').map((a) => a.labels.alertname)
  t.same(await brokerDown(), [], 'nothing while Redis is up')

  // Every query of the dashboard is PromQL this Prometheus accepts, over what the nodes expose.
  const dashboard = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'dashboard.json'), 'utf8')) as { panels: Array<{ title: string, targets?: Array<{ expr: string }> }> }
  for (const panel of dashboard.panels) {
    for (const { expr } of panel.targets ?? []) {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr.replaceAll('$__rate_interval', '1m'))}`)
      const body = await res.json() as { status: string, error?: string }
      t.equal(body.status, 'success', `${panel.title}: ${body.error ?? 'a valid query'}`)
    }
  }

  await cluster.redis.stop('SIGKILL')
  const stoppedAt = Date.now()
  await waitFor(async () => (await brokerDown()).some((a) => a.state === 'pending'), 'ChatBrokerDown pending', 20_000)
  t.pass(`pending after ${Math.round((Date.now() - stoppedAt) / 1000)} s (each node checks every 5 s)`)
  await waitFor(async () => (await brokerDown()).filter((a) => a.state === 'firing').length === 2, 'ChatBrokerDown firing on both nodes', 60_000)
  const firing = await brokerDown()
  t.same(firing.map((a) => a.labels.instance).sort(), cluster.nodes.map((n) => `127.0.0.1:${n.port}`).sort(), `firing for both nodes ${Math.round((Date.now() - stoppedAt) / 1000)} s after the stop (for: 30s)`)
  t.ok(firing.every((a) => a.labels.severity === 'page' && a.labels.dependency === 'broker'), 'a page, naming the broker')
  t.same(await others(), [], 'and no other alert fires: the store is up, the nodes answer')

  await cluster.redis.start()
  const backAt = Date.now()
  await waitFor(async () => (await brokerDown()).length === 0, 'ChatBrokerDown resolved', 30_000)
  t.pass(`resolved ${Math.round((Date.now() - backAt) / 1000)} s after Redis came back`)
})
