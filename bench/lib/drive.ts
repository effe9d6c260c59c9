import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { DriverInput } from '../driver.js'
import { root } from '../../scripts/services.mjs'

/**
 * Runs bench/driver.ts (a process of its own, so the driver never shares an
 * event loop with what it measures) and answers the figures of its RESULT
 * line. `watch` sees its output so far, and the child (to write to its stdin).
 */
export async function runDriver (input: DriverInput, watch?: (out: string, child: ChildProcess) => void): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'driver.ts'), JSON.stringify(input)], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d
    watch?.(out, child)
  })
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)))
  const line = out.split('\n').find((l) => l.startsWith('RESULT '))
  if (code !== 0 || line === undefined) throw new Error(`driver failed on ${input.spec.scenario} (exit ${code})`)
  return JSON.parse(line.slice(7)) as Record<string, unknown>
}
