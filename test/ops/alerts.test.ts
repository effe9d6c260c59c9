/**
 * The alert rules (deploy/prometheus/alerts.yml) checked by Prometheus' own
 * tools: `promtool check rules`, and `promtool test rules` on the unit tests
 * of every alert. And that every alert has its unit test, its runbook in
 * docs/operations.md and its line in the README, and reads only metrics the
 * server exposes.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { root } from '../../scripts/services.mjs'
import { buildTestApp } from '../helper.js'
import { markSuiteRan, requireTool } from '../services.js'

const dir = join(root, 'deploy', 'prometheus')
const rules = readFileSync(join(dir, 'alerts.yml'), 'utf8')
const unitTests = ['alerts.test.yml', 'alerts.slow-burn.test.yml']
const alerts = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]!)

function promtool (t: Test, ...args: string[]) {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 120_000 })
  t.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`)
  return r.stdout
}

t.test('promtool checks the rules and runs the unit test of every alert', async (t) => {
  if (requireTool(t, 'promtool', 'prometheus') === undefined) return
  markSuiteRan(t, 'promtool')
  t.match(promtool(t, 'check', 'rules', 'alerts.yml'), /SUCCESS: \d+ rules found/)
  const out = promtool(t, 'test', 'rules', ...unitTests)
  t.equal(out.match(/SUCCESS/g)?.length, unitTests.length, 'every unit-test file passes')
})

t.test('every alert is tested, has a runbook and a README line; every metric it reads is exposed', async (t) => {
  t.ok(alerts.length >= 10, `${alerts.length} alerts`)
  const tested = unitTests.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n')
  const runbooks = readFileSync(join(root, 'docs', 'operations.md'), 'utf8')
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  for (const name of alerts) {
    t.match(tested, new RegExp(`alertname: ${name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${name}: a unit test expects it to fire`)
    t.match(runbooks, new RegExp(`^### ${name}$`, 'm'), `${name}: a runbook section`)
    t.match(rules, new RegExp(`runbook: docs/operations.md#${name.toLowerCase()}\\n`), `${name}: its annotation links the runbook`)
    t.match(readme, new RegExp(`\`${name}\``), `${name}: in the README`)
  }
  const built = await buildTestApp(t)
  if (built === undefined) return
  const exposed = new Set([...(await built.app.inject('/metrics')).body.matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1]!))
  const read = new Set([...rules.matchAll(/\b([a-z][a-z0-9_]*)\{/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, '')).filter((n) => n !== 'up' && n !== 'by' && n !== 'on'))
  for (const name of read) t.ok(exposed.has(name), `${name}: read by an alert, exposed by the server`)

  // The dashboard: valid JSON, every panel with queries, each reading exposed metrics or the rules' recorded series.
  const dashboard = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'dashboard.json'), 'utf8')) as { panels: Array<{ type: string, title: string, targets?: Array<{ expr: string }> }> }
  const recorded = new Set([...rules.matchAll(/- record: ([\w:]+)/g)].map((m) => m[1]!))
  const graphs = dashboard.panels.filter((p) => p.type !== 'row')
  t.ok(graphs.length >= 15, `${graphs.length} panels`)
  for (const panel of graphs) {
    t.ok((panel.targets ?? []).length > 0, `${panel.title}: has queries`)
    for (const { expr } of panel.targets ?? []) {
      // A series is named before its {selector}, or is the whole query (a recorded series).
      const names = /^[\w:]+$/.test(expr) ? [expr] : [...expr.matchAll(/\b([a-z][a-z0-9_:]*)\{/g)].map((m) => m[1]!)
      t.ok(names.length > 0, `${panel.title}: reads a series`)
      for (const name of names) {
        t.ok(recorded.has(name) || exposed.has(name.replace(/_(bucket|count|sum)$/, '')), `${panel.title}: ${name} is exposed or recorded`)
      }
    }
  }
  for (const panel of graphs) t.ok(readme.includes(`**${panel.title}**`), `${panel.title}: described in the README`)
})
