import { SerializationError } from '../errors.js'
import { ContentType, decodeMsgpackPart, msgpackCodec } from '../serialization/codec.js'
import type { ChordRef, SignatureData } from '../canvas/data.js'
import { validateHeaders } from './validate-envelope.js'

export type { SignatureData }

/**
 * What the runtime needs to route, schedule and supervise a task, decoded on the worker's
 * main thread. The task's arguments are not here: they stay encoded in the body, which only
 * the worker thread decodes (encode once, decode once).
 */
export interface TaskHeaders {
  /** Task id; stays the same across retries. */
  id: string
  /** Registered task name. */
  task: string
  /** How many times this task has been retried so far. */
  retries: number
  rootId: string
  parentId?: string
  groupId?: string
  /** Do not run before this time (epoch ms). */
  eta?: number
  /** Revoke instead of running after this time (epoch ms). */
  expires?: number
  /** Per-call time limits in ms, overriding the task's: [soft, hard]. */
  timeLimit?: [soft: number | null, hard: number | null]
  /** Who sent it: `hostname` or `pid@host`. */
  origin?: string
  ignoreResult?: boolean
  priority?: number
  /** Content type of the body. */
  contentType: ContentType
  /** User headers, passed to the task's request. */
  headers?: Record<string, unknown>
  /** Signatures to send with the result when the task succeeds. */
  callbacks?: SignatureData[]
  /** Signatures to send with the request and error when the task fails. */
  errbacks?: SignatureData[]
  /** A chain's steps after this task, next first: sent with its result when it succeeds. */
  chain?: SignatureData[]
  /** The chord this task completes a member of. */
  chord?: ChordRef
  /** Where the sender listens for this task's states (`rpc://`; Celery's `reply_to`). */
  replyTo?: string
}

/** The arguments of a task, encoded with the body's content type. */
export type TaskBody = [args: unknown[], kwargs: Record<string, unknown> | null]

/** A task message: headers plus the still-encoded body. */
export interface TaskMessage {
  headers: TaskHeaders
  body: Uint8Array
}

/**
 * Frame layout, version 2: one version byte, the headers' length (u32, big endian), the
 * headers as a msgpack tuple (positions instead of key names), then the body as it was
 * encoded. A worker's main thread reads only the headers; its threads read both. One
 * exact-size buffer per message: the body is not copied into a second msgpack document.
 */
const VERSION = 2
const PREFIX = 5
const FIELDS = [
  'id', 'task', 'retries', 'rootId', 'parentId', 'groupId', 'eta', 'expires', 'timeLimit', 'origin',
  'ignoreResult', 'priority', 'contentType', 'headers', 'callbacks', 'errbacks', 'chain', 'chord', 'replyTo',
] as const satisfies readonly (keyof TaskHeaders)[]

function toTuple(headers: TaskHeaders): unknown[] {
  let last = 0
  const tuple = new Array<unknown>(FIELDS.length)
  for (let i = 0; i < FIELDS.length; i++) {
    const value = headers[FIELDS[i]]
    tuple[i] = value ?? null
    if (value !== undefined && value !== null) last = i
  }
  tuple.length = last + 1
  return tuple
}

function fromTuple(tuple: unknown): TaskHeaders {
  if (!Array.isArray(tuple)) throw new SerializationError('malformed task message: headers must be a tuple')
  const headers: Record<string, unknown> = {}
  for (let i = 0; i < tuple.length && i < FIELDS.length; i++) {
    if (tuple[i] !== null && tuple[i] !== undefined) headers[FIELDS[i]] = tuple[i]
  }
  return headers as unknown as TaskHeaders
}

/** Frames a task message into the bytes a transport carries. */
export function encodeMessage(message: TaskMessage): Uint8Array {
  const headers = msgpackCodec.encode(toTuple(message.headers))
  const frame = Buffer.allocUnsafe(PREFIX + headers.byteLength + message.body.byteLength)
  frame[0] = VERSION
  frame.writeUInt32BE(headers.byteLength, 1)
  frame.set(headers, PREFIX)
  frame.set(message.body, PREFIX + headers.byteLength)
  return frame
}

function headersEnd(bytes: Uint8Array): number {
  if (bytes.byteLength < PREFIX) throw new SerializationError(`undecodable task message: ${bytes.byteLength} bytes is too short for a frame`)
  if (bytes[0] !== VERSION) throw new SerializationError(`malformed task message: expected a version ${VERSION} frame, got a first byte of ${bytes[0]}`)
  const length = ((bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4]) >>> 0
  if (PREFIX + length > bytes.byteLength) throw new SerializationError(`undecodable task message: headers of ${length} bytes overrun a frame of ${bytes.byteLength}`)
  return PREFIX + length
}

// Buffer's own latin1 reader, which also reads a plain Uint8Array (nats.js hands those out).
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice
const float64Bytes = new Uint8Array(8)
const float64 = new DataView(float64Bytes.buffer)

/**
 * The headers of a plain task (a tuple of ASCII strings, integers, floats, booleans and nils,
 * as every task sent without canvas, callbacks or user headers is), read straight from the
 * frame: what most messages hold, at a third of msgpackr's garbage and none of its native call.
 * Anything else (a nested value, a non-ASCII string, a malformed or short tuple) returns
 * undefined, and msgpackr decodes it, or names what is wrong with it.
 */
function plainTuple(b: Uint8Array, start: number, end: number): unknown[] | undefined {
  if (latin1Slice === undefined || start >= end) return undefined
  let at = start
  const head = b[at++]
  let count: number
  if (head >= 0x90 && head <= 0x9f) count = head & 0x0f
  else if (head === 0xdc && at + 2 <= end) {
    count = (b[at] << 8) | b[at + 1]
    at += 2
  } else return undefined
  if (count > FIELDS.length) return undefined
  const tuple = new Array<unknown>(count)
  for (let i = 0; i < count; i++) {
    if (at >= end) return undefined
    const type = b[at++]
    let length: number
    if (type <= 0x7f) {
      tuple[i] = type
      continue
    } else if (type >= 0xa0 && type <= 0xbf) length = type & 0x1f
    else if (type === 0xd9 && at < end) length = b[at++]
    else if (type === 0xc0) {
      tuple[i] = null
      continue
    } else if (type === 0xc2 || type === 0xc3) {
      tuple[i] = type === 0xc3
      continue
    } else if (type >= 0xe0) {
      tuple[i] = type - 0x100
      continue
    } else if (type === 0xcc && at + 1 <= end) {
      tuple[i] = b[at++]
      continue
    } else if (type === 0xcd && at + 2 <= end) {
      tuple[i] = (b[at] << 8) | b[at + 1]
      at += 2
      continue
    } else if (type === 0xce && at + 4 <= end) {
      tuple[i] = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0
      at += 4
      continue
    } else if (type === 0xcb && at + 8 <= end) {
      for (let k = 0; k < 8; k++) float64Bytes[k] = b[at + k]
      tuple[i] = float64.getFloat64(0)
      at += 8
      continue
    } else return undefined
    if (at + length > end) return undefined
    for (let k = at; k < at + length; k++) if (b[k] > 0x7f) return undefined
    tuple[i] = latin1Slice.call(b, at, at + length)
    at += length
  }
  return at === end ? tuple : undefined
}

/**
 * Reads only the headers of a task message (what a worker's main thread needs), checking the
 * frame, then every field against the one schema (validate-envelope.ts). Throws
 * {@link SerializationError} for a frame that does not decode, `InvalidMessageError` (a
 * SerializationError) naming the field for headers that break the schema.
 */
export function decodeHeaders(bytes: Uint8Array): TaskHeaders {
  const end = headersEnd(bytes)
  let tuple: unknown
  try {
    tuple = plainTuple(bytes, PREFIX, end) ?? decodeMsgpackPart(bytes, PREFIX, end)
  } catch (error) {
    throw new SerializationError(`undecodable task message: ${(error as Error).message}`, { cause: error })
  }
  const headers = fromTuple(tuple)
  validateHeaders(headers as unknown as Record<string, unknown>)
  return headers
}

/** Reads a whole task message: its headers and its still-encoded body (a view on `bytes`). */
export function decodeMessage(bytes: Uint8Array): TaskMessage {
  const headers = decodeHeaders(bytes)
  return { headers, body: bytes.subarray(headersEnd(bytes)) }
}
