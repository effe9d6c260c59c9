export const BASE: string
export const IMAGE: string
export function ensureImageTools (log?: (msg: string) => void): void
export function ensureBaseImage (log?: (msg: string) => void): void
export function buildImage (): { ok: boolean, output: string }
export function imageConfig (): Record<string, unknown>
export function mountImage (): string
export function unmountImage (): void
