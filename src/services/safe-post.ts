import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { isPrivateAddress } from '../domain/outgoing.js'

export interface PostOutcome {
  /** The status answered; none when there was no answer (refused, timed out, reset). */
  statusCode?: number
  error?: string
}

/** The resolver a connection uses: with private addresses refused, every address a name resolves to is checked at connect time (no DNS rebinding past the check). */
function guardedLookup (allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err !== null) { callback(err, '', 0); return }
      const refused = allowPrivate ? undefined : addresses.find((a) => isPrivateAddress(a.address))
      if (refused !== undefined) { callback(Object.assign(new Error(`${hostname} resolves to a private address`), { code: 'EPRIVATE' }), '', 0); return }
      if ((options as { all?: boolean }).all === true) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
      else callback(null, addresses[0]!.address, addresses[0]!.family)
    })
  }
}

/**
 * POSTs `body` to `url` without following redirects (a redirect is an
 * answer, not a 2xx), giving up after `timeoutMs` in all; the answer's body
 * is read and dropped, at most 64 KiB of it.
 */
export function safePost (url: string, body: string, headers: Record<string, string>, opts: { timeoutMs: number, allowPrivate: boolean }): Promise<PostOutcome> {
  return new Promise((resolve) => {
    let target: URL
    try {
      target = new URL(url)
    } catch {
      resolve({ error: 'not a URL' })
      return
    }
    const host = target.hostname.replace(/^\[|\]$/g, '')
    if (!opts.allowPrivate && isIP(host) !== 0 && isPrivateAddress(host)) { resolve({ error: 'a private address' }); return }
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest
    let settled = false
    const done = (outcome: PostOutcome) => { if (!settled) { settled = true; clearTimeout(timer); resolve(outcome) } }
    const req = send(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'chat-backend-webhooks/1', ...headers },
      lookup: guardedLookup(opts.allowPrivate),
      agent: false
    }, (res) => {
      let read = 0
      res.on('data', (chunk: Buffer) => { read += chunk.length; if (read > 64 * 1024) res.destroy() })
      res.on('end', () => done({ statusCode: res.statusCode ?? 0 }))
      res.on('close', () => done({ statusCode: res.statusCode ?? 0 }))
      res.on('error', () => done({ statusCode: res.statusCode ?? 0 }))
    })
    const timer = setTimeout(() => { req.destroy(); done({ error: `no answer within ${opts.timeoutMs} ms` }) }, opts.timeoutMs)
    req.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code === 'EPRIVATE' ? err.message : (err.code ?? err.message) }))
    req.end(body)
  })
}
