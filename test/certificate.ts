/** A certificate a test makes for itself (openssl), for TLS on a node or on nginx. */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A self-signed certificate for 127.0.0.1 and localhost, valid a day: its files (in `dir`, or a new temporary one) and the CA to trust. */
export function certificate (dir = mkdtempSync(join(tmpdir(), 'tls-')), names = { cert: 'cert.pem', key: 'key.pem' }) {
  const [cert, key] = [join(dir, names.cert), join(dir, names.key)]
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`)
  return { cert, key, ca: readFileSync(cert) }
}
