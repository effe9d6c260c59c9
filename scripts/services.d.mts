import type { ChildProcess } from 'node:child_process'

export const root: string
export function freePort (): Promise<number>
export function probe (host: string, port: number, request: string | null, timeoutMs?: number): Promise<string | null>
export function redisAnswers (port: number): Promise<boolean>
export function which (cmd: string): string | null
export function run (cmd: string, args: string[], opts?: object): void
export function waitFor (check: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void>
export function ensureChromium (log?: (msg: string) => void): void
export function aptInstall (packages: string[], options?: { lean?: boolean }): void
export function ensureRedisServer (log?: (msg: string) => void): void
export function ensurePrometheus (log?: (msg: string) => void): void
export function ensureNginx (log?: (msg: string) => void): void
export function redisArgs (port: number): string[]
export function freeClusterPort (taken?: Set<number>): Promise<number>
export function redisClusterArgs (port: number, dir: string, nodeTimeoutMs?: number): string[]
export function redisCli (port: number, ...args: string[]): string
export function clusterHealthy (ports: number[], masters?: number): boolean
export function startRedisCluster (options?: { masters?: number, nodeTimeoutMs?: number, log?: (msg: string) => void }): Promise<{ ports: number[], dir: string, children: ChildProcess[], seeds: string }>
export function buildFerretHarness (tags: string[], log?: (msg: string) => void): string
export type FerretBackend = 'postgresql' | 'sqlite'
export function ferretHarness (log?: (msg: string) => void): Promise<{ bin: string, backend: FerretBackend, argsFor (name: string): string[] }>
export function ferretArgs (backend: FerretBackend, name: string, sqliteBase: string): string[]
export function startFerretHarness (bin: string, args: string[], timeoutMs?: number): Promise<{ url: string, child: ChildProcess }>
