/** The error codes of the public contract, with their HTTP status. */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  UNAVAILABLE: 503
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

/** An error the application means to show to the caller, with a contract code. */
export class AppError extends Error {
  override name = 'AppError'
  readonly statusCode: number

  constructor (readonly code: ErrorCode, message: string, readonly details?: Record<string, unknown>) {
    super(message)
    this.statusCode = ERROR_STATUS[code]
  }
}

export const validationError = (message: string, details?: Record<string, unknown>) => new AppError('VALIDATION_ERROR', message, details)
export const unauthorized = (message = 'authentication required') => new AppError('UNAUTHORIZED', message)
export const forbidden = (message = 'not allowed') => new AppError('FORBIDDEN', message)
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`)
export const conflict = (message: string, details?: Record<string, unknown>) => new AppError('CONFLICT', message, details)
export const unavailable = (message: string) => new AppError('UNAVAILABLE', message)
export const payloadTooLarge = (message: string) => new AppError('PAYLOAD_TOO_LARGE', message)

/** Raised by store adapters when a unique index refuses a write. `field` names the index's logical field. */
export class DuplicateKeyError extends Error {
  override name = 'DuplicateKeyError'
  constructor (readonly field: string) {
    super(`duplicate ${field}`)
  }
}

/** Raised by store and broker adapters when their server cannot be reached. */
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError'
  constructor (readonly dependency: 'store' | 'broker' | 'presence' | 'revocations', cause: unknown) {
    super(`${dependency} unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}

/** Runs a call to a dependency's server; its failure becomes DependencyUnavailableError (after `onFailure`, when given). */
export function unavailableAs (dependency: DependencyUnavailableError['dependency'], onFailure: () => void = () => {}) {
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (err) {
      onFailure()
      throw new DependencyUnavailableError(dependency, err)
    }
  }
}
