/**
 * Building the real image (the Dockerfile) on a machine without a Docker
 * engine: Debian's podman builds it, on a stand-in for node:20-bookworm-slim
 * made here (debootstrap's minbase of bookworm, this machine's node and npm,
 * a `node` user of uid 1000, this machine's CA bundle), imported under the
 * base image's name. `podman run` is refused on these machines (the OCI
 * runtimes may not set rlimits in this sandbox), so the image's files are
 * run by chroot: `podman image mount`, then its CMD from its WORKDIR as its
 * USER. Plain JavaScript: the test of the image and a person may both call it.
 *
 *   node scripts/image.mjs build     builds chat-backend:test (the base image is cached)
 */
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { aptInstall, root, run, which } from './services.mjs'

export const BASE = 'docker.io/library/node:20-bookworm-slim'
export const IMAGE = 'localhost/chat-backend:test'

const podman = (args, opts = {}) => spawnSync('podman', args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, ...opts })

/** Installs Debian's podman and debootstrap when missing. */
export function ensureImageTools (log = console.log) {
  if (which('podman') && (which('debootstrap') || existsSync('/usr/sbin/debootstrap'))) return
  log('image: podman or debootstrap missing; installing the Debian packages')
  aptInstall(['podman', 'debootstrap'], { lean: true })
}

/** The stand-in base image, made once (podman keeps it between runs). */
export function ensureBaseImage (log = console.log) {
  if (podman(['image', 'exists', BASE]).status === 0) return
  const rootfs = join(tmpdir(), `chat-base-${process.pid}`)
  rmSync(rootfs, { recursive: true, force: true })
  log('image: making the base image (debootstrap --variant=minbase bookworm, this machine\'s node and npm)')
  run(existsSync('/usr/sbin/debootstrap') ? '/usr/sbin/debootstrap' : 'debootstrap', ['--variant=minbase', 'bookworm', rootfs, 'http://deb.debian.org/debian'], { stdio: 'ignore' })
  cpSync(process.execPath, join(rootfs, 'usr', 'local', 'bin', 'node'))
  const npm = '/usr/lib/node_modules/npm'
  cpSync(npm, join(rootfs, 'usr', 'local', 'lib', 'node_modules', 'npm'), { recursive: true })
  spawnSync('ln', ['-sf', '../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr', 'local', 'bin', 'npm')])
  spawnSync('ln', ['-sf', '../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr', 'local', 'bin', 'npx')])
  mkdirSync(join(rootfs, 'etc', 'ssl', 'certs'), { recursive: true })
  cpSync('/etc/ssl/certs/ca-certificates.crt', join(rootfs, 'etc', 'ssl', 'certs', 'ca-certificates.crt'))
  run('chroot', [rootfs, '/usr/sbin/useradd', '--create-home', '--uid', '1000', '--user-group', '--shell', '/bin/bash', 'node'])
  spawnSync('sh', ['-c', `tar -C ${rootfs} -c . | podman import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' --change 'CMD ["node"]' - ${BASE}`], { stdio: 'ignore' })
  rmSync(rootfs, { recursive: true, force: true })
  if (podman(['image', 'exists', BASE]).status !== 0) throw new Error('image: importing the base image failed')
}

/** Builds the Dockerfile as it is into IMAGE; resolves with podman's output. */
export function buildImage () {
  const r = podman(['build', '--isolation', 'chroot', '--network', 'host', '--pull=never', '--format', 'docker', '-t', IMAGE, '-f', join(root, 'Dockerfile'), root], { timeout: 600_000 })
  return { ok: r.status === 0, output: `${r.stdout}\n${r.stderr}` }
}

/** The image's config (its Cmd, WorkingDir, User, Env, Healthcheck) as podman reports it. */
export function imageConfig () {
  const r = podman(['image', 'inspect', IMAGE, '--format', '{{json .Config}}'])
  if (r.status !== 0) throw new Error(`podman image inspect: ${r.stderr}`)
  const config = JSON.parse(r.stdout)
  const health = podman(['image', 'inspect', IMAGE, '--format', '{{json .HealthCheck}}'])
  return { ...config, Healthcheck: health.status === 0 ? JSON.parse(health.stdout) : null }
}

/** Mounts the image's files; returns where. */
export function mountImage () {
  const r = podman(['image', 'mount', IMAGE])
  if (r.status !== 0) throw new Error(`podman image mount: ${r.stderr}`)
  return r.stdout.trim()
}

export function unmountImage () {
  podman(['image', 'unmount', IMAGE])
}

if (process.argv[2] === 'build') {
  ensureImageTools()
  ensureBaseImage()
  const { ok, output } = buildImage()
  writeFileSync(join(root, '.cache', 'image-build.log'), output)
  console.log(ok ? `built ${IMAGE}` : `the build failed:\n${output.slice(-3000)}`)
  process.exit(ok ? 0 : 1)
}
