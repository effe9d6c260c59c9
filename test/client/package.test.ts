/**
 * The SDK as an app installs it: `npm pack` of client/, installed into an
 * empty folder with `ws`; the README's example (client/examples/two-users.mjs)
 * and the TypeScript one (group.ts) type-check against the packed types
 * (strict, the JavaScript with checkJs) and run as written against a server,
 * each exiting by itself once it calls close().
 */
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { buildTestApp } from '../helper.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const examples = join(root, 'client', 'examples')
const versionOf = (name: string) => (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version

function run (command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 180_000) {
  const out = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs })
  return { status: out.status, output: `${out.stdout ?? ''}${out.stderr ?? ''}` }
}

/** Runs a script to its end; resolves with its exit code and output (killed after timeoutMs: it did not exit). */
function runToEnd (args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<{ code: number | null, output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => { output += d })
    child.stderr.on('data', (d) => { output += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, output }) })
  })
}

t.test('the packed SDK, installed into an empty folder: the examples type-check and run as written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-sdk-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const build = run(process.execPath, [join(root, 'scripts', 'build-web.mjs')], root)
  t.equal(build.status, 0, `npm run build:web\n${build.output}`)
  const pack = run('npm', ['pack', '--silent', '--pack-destination', dir], join(root, 'client'))
  t.equal(pack.status, 0, pack.output)
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))
  t.ok(tarball, `packed ${tarball}`)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'an-app', private: true, type: 'module' }))
  const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', `./${tarball}`,
    `ws@${versionOf('ws')}`, `@types/ws@${versionOf('@types/ws')}`, `@types/node@${versionOf('@types/node')}`], dir)
  t.equal(install.status, 0, install.output)
  for (const file of ['two-users.mjs', 'group.ts']) copyFileSync(join(examples, file), join(dir, file))
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, allowJs: true, checkJs: true, skipLibCheck: false, types: ['node'] },
    files: ['two-users.mjs', 'group.ts']
  }))
  const tsc = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir)
  t.equal(tsc.status, 0, `tsc (strict; checkJs) against the packed types:\n${tsc.output}`)

  const built = await buildTestApp(t)
  if (built === undefined) return
  const base = await built.app.listen({ port: 0, host: '127.0.0.1' })
  const env = { ...process.env, CHAT_URL: base }
  const js = await runToEnd(['two-users.mjs'], dir, env)
  t.equal(js.code, 0, `two-users.mjs ran and exited by itself:\n${js.output}`)
  t.match(js.output, /bob got "Hello Bob!"/)
  t.match(js.output, /ada sees bob read up to seq 1/)
  t.match(js.output, /bob sees the edit: "Hello, Bob!"/)
  t.match(js.output, /refused: 400 VALIDATION_ERROR \(field participantIds\.0\)/)
  const ts = await runToEnd(['--import', join(root, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs'), 'group.ts'], dir, env)
  t.equal(ts.code, 0, `group.ts ran and exited by itself:\n${ts.output}`)
  t.match(ts.output, /bob: .*suspended.*open; got while you were away/)
  t.match(ts.output, /after leaving: 403 FORBIDDEN/)
})

t.test('the README\'s SDK example is client/examples/two-users.mjs, as written', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const block = /<!-- example: client\/examples\/two-users\.mjs -->\n```js\n([\s\S]*?)```/.exec(readme)?.[1]
  t.equal(block, readFileSync(join(examples, 'two-users.mjs'), 'utf8'), 'the same text')
})
