import {
  BackendError, CeleriacError, ChordError, ConfigError, InvalidArgumentError, MaxRetriesExceeded, NotRegistered,
  RemoteError, SerializationError, SoftTimeLimitExceeded, TaskIgnoredError, TaskRejectedError, TaskRevokedError,
  TimeLimitExceeded, TimeoutError, TransportError, WorkerLostError, ErrorCode,
} from '../errors.js'

/**
 * An error as it crosses a thread or the wire: plain data that every codec carries.
 * `type` is the error's class name.
 */
export interface WireError {
  type: string
  code: string
  message: string
  stack?: string
  data?: unknown
  cause?: WireError
}

type KnownErrorClass = new (message: string, options?: { data?: unknown; cause?: unknown }) => CeleriacError

const KNOWN: Record<string, KnownErrorClass> = {
  ConfigError, InvalidArgumentError, NotRegistered, SerializationError, TransportError, BackendError, TimeoutError,
  TimeLimitExceeded, SoftTimeLimitExceeded, WorkerLostError, MaxRetriesExceeded, TaskRevokedError,
  TaskRejectedError, TaskIgnoredError, ChordError,
}

function plainData(value: unknown): unknown {
  // Only data survives; anything else would make the whole failure unencodable.
  try {
    return value === undefined ? undefined : structuredClone(value)
  } catch {
    return String(value)
  }
}

/** Turns anything thrown into a {@link WireError}, keeping class name, code, data, stack and cause. */
export function toWireError(error: unknown, depth = 0): WireError {
  if (!(error instanceof Error)) return thrownValue(error)
  const fields = error as Error & { code?: unknown; data?: unknown }
  const wire: WireError = {
    type: error.name && error.name !== 'Error' ? error.name : error.constructor?.name || 'Error',
    code: typeof fields.code === 'string' || typeof fields.code === 'number' ? String(fields.code) : ErrorCode.Remote,
    message: error.message,
  }
  if (error.stack) wire.stack = error.stack
  if (fields.data !== undefined) wire.data = plainData(fields.data)
  if (error.cause !== undefined && depth < 8) wire.cause = toWireError(error.cause, depth + 1)
  return wire
}

/**
 * What was thrown when it is not an Error (`throw 'no'`, `throw { code: 'E_QUOTA', message }`):
 * an object's `name`, `code` and `message` are kept as an Error's would be, and the object
 * itself is its `data`, so a caller can still tell one failure from another.
 */
function thrownValue(value: unknown): WireError {
  if (typeof value === 'string') return { type: 'Error', code: ErrorCode.Remote, message: value }
  if (typeof value !== 'object' || value === null) return { type: 'Error', code: ErrorCode.Remote, message: `non-error thrown: ${String(value)}` }
  const { name, code, message } = value as { name?: unknown; code?: unknown; message?: unknown }
  const wire: WireError = {
    type: typeof name === 'string' && name !== '' ? name : 'Error',
    code: typeof code === 'string' || typeof code === 'number' ? String(code) : ErrorCode.Remote,
    message: typeof message === 'string' ? message : `non-error thrown: ${safeJson(value)}`,
  }
  const data = plainData(value)
  if (typeof data === 'object') wire.data = data
  return wire
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/**
 * Rebuilds an error from its wire form: celeriac's own classes come back as themselves,
 * any other class as a {@link RemoteError} with the same `name`, `code`, `data` and stack.
 */
export function fromWireError(wire: WireError): Error {
  const cause = wire.cause ? fromWireError(wire.cause) : undefined
  const options = { data: wire.data, cause }
  const Known = Object.hasOwn(KNOWN, wire.type) ? KNOWN[wire.type] : undefined
  const error = Known && wire.code.startsWith('ERR_') ? new Known(wire.message, options) : new RemoteError(wire.type, wire.code, wire.message, options)
  if (wire.stack) error.stack = wire.stack
  return error
}
