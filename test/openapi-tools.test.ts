/**
 * The OpenAPI document as other people's tools read it: Spectral's OpenAPI
 * ruleset finds nothing to warn about, and a program written against the
 * types openapi-typescript generates from it compiles.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import openapiTS, { astToString } from 'openapi-typescript'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url))

t.test('Spectral (spectral:oas) reports nothing on openapi/openapi.json, warnings included', async (t) => {
  const run = spawnSync(bin('spectral'), ['lint', 'openapi/openapi.json', '--ruleset', '.spectral.yaml', '--format', 'json', '--fail-severity', 'hint', '--quiet'], { cwd: root, encoding: 'utf8' })
  const results = JSON.parse(run.stdout === '' ? '[]' : run.stdout) as Array<{ code: string, message: string, path: string[] }>
  t.same(results.map((r) => `${r.code} at ${r.path.join('.')}: ${r.message}`), [], 'no results')
  t.equal(run.status, 0, run.stderr)
})

t.test('a program against the types openapi-typescript generates compiles', async (t) => {
  const doc = JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')) as Parameters<typeof openapiTS>[0]
  const generated = new URL('./openapi-client/generated/', import.meta.url)
  mkdirSync(generated, { recursive: true })
  writeFileSync(new URL('openapi.d.ts', generated), astToString(await openapiTS(doc)))
  const tsc = spawnSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'test/openapi-client/tsconfig.json'], { cwd: root, encoding: 'utf8' })
  t.equal(tsc.status, 0, tsc.stdout + tsc.stderr)
})
