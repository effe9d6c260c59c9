#!/usr/bin/env node
/**
 * Builds what browsers load: the demo web client (web/src → web/dist/app.js)
 * and the SDK bundle (client/src → client/dist/index.js, with its type
 * declarations under client/dist/types). `npm run build` runs it.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { build } from 'esbuild'
import { root } from './services.mjs'

const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning' }
await build({ ...common, entryPoints: [join(root, 'web', 'src', 'main.ts')], outfile: join(root, 'web', 'dist', 'app.js'), platform: 'browser' })
await build({ ...common, entryPoints: [join(root, 'client', 'src', 'index.ts')], outfile: join(root, 'client', 'dist', 'index.js'), platform: 'neutral' })
if (!process.argv.includes('--no-types')) {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'client', 'tsconfig.json')], { stdio: 'inherit' })
  if (tsc.status !== 0) process.exit(tsc.status ?? 1)
}
console.log('built web/dist/app.js and client/dist (index.js, types/)')
