import type { UploadRecord } from '../../domain/types.js'
import type { AttachmentRepository, BlobRepository } from '../port.js'
import { copy } from './unique-index.js'
import { resealIn, scanIn } from './reseal.js'

export function createMemoryAttachmentRepository (): AttachmentRepository {
  const records = new Map<string, UploadRecord>()
  const sweeps = new Set<number>()
  const set = (id: string, patch: Partial<UploadRecord>) => { const r = records.get(id); if (r !== undefined) records.set(id, { ...r, ...patch }) }
  return {
    async scan (afterId, limit) { return scanIn(records, afterId, limit) },
    async reseal (id, guard, set) { return resealIn(records, id, guard, set) },
    async insert (record) { records.set(record.id, copy(record)) },
    async findById (id) { const r = records.get(id); return r === undefined ? null : copy(r) },
    async findByIds (ids) { return ids.flatMap((id) => { const r = records.get(id); return r === undefined ? [] : [copy(r)] }) },
    async complete (id, found) {
      const r = records.get(id)
      if (r?.state !== 'uploading') return false
      const { width, height, thumbnail, ...rest } = found
      records.set(id, { ...r, ...rest, ...(width !== undefined && { width }), ...(height !== undefined && { height }), ...(thumbnail === true && { thumbnail }), state: 'stored' })
      return true
    },
    async claim (ids, clientMessageId, at) {
      const held: string[] = []
      for (const id of ids) {
        const r = records.get(id)
        if (r?.state !== 'stored') continue
        if (r.claim === undefined) set(id, { claim: { clientMessageId, at } })
        else if (r.claim.clientMessageId !== clientMessageId) continue
        held.push(id)
      }
      return held
    },
    async settle (ids, messageId) { for (const id of ids) if (records.get(id)?.state === 'stored') set(id, { messageId }) },
    async markDeletingForMessage (messageId) { for (const r of records.values()) if (r.messageId === messageId) set(r.id, { state: 'deleting' }) },
    async markDeleting (id) { if (records.get(id)?.messageId === undefined) set(id, { state: 'deleting' }) },
    async markAbandoned ({ storedBefore, uploadingBefore }) {
      let n = 0
      for (const r of records.values()) {
        const abandoned = (r.state === 'stored' && r.claim === undefined && r.createdAt < storedBefore) || (r.state === 'uploading' && r.createdAt < uploadingBefore)
        if (abandoned) { set(r.id, { state: 'deleting' }); n++ }
      }
      return n
    },
    async unsettled (claimedBefore, limit) {
      return [...records.values()].filter((r) => r.state === 'stored' && r.claim !== undefined && r.messageId === undefined && r.claim.at < claimedBefore).slice(0, limit).map(copy)
    },
    async deleting (limit) { return [...records.values()].filter((r) => r.state === 'deleting').slice(0, limit).map(copy) },
    async remove (id) { records.delete(id) },
    async usage (userId) {
      let total = 0
      for (const r of records.values()) if (r.uploaderId === userId && r.state !== 'deleting') total += r.size
      return total
    },
    async claimSweep (window) {
      if (sweeps.has(window)) return false
      sweeps.add(window)
      for (const w of sweeps) if (w < window - 10) sweeps.delete(w)
      return true
    }
  }
}

/** Bytes in this process's memory, whole once written (the embedded store keeps everything in memory). */
export function createMemoryBlobRepository (): BlobRepository {
  const blobs = new Map<string, Buffer>()
  return {
    async write (id, source) {
      const chunks: Uint8Array[] = []
      let size = 0
      for await (const chunk of source) { chunks.push(chunk); size += chunk.byteLength }
      blobs.set(id, Buffer.concat(chunks, size))
      return size
    },
    async * read (id, range) {
      const bytes = blobs.get(id)
      if (bytes === undefined) throw new Error(`no bytes stored under ${id}`)
      const [start, end] = range === undefined ? [0, bytes.length - 1] : [range.start, range.end ?? bytes.length - 1]
      // In slices, as a database would hand them out.
      for (let at = start; at <= end; at += 256 * 1024) yield bytes.subarray(at, Math.min(end + 1, at + 256 * 1024))
    },
    async delete (id) { blobs.delete(id) }
  }
}
