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
  const plain = plainFrame(message.headers, message.body)
  if (plain !== undefined) return plain
  const headers = msgpackCodec.encode(toTuple(message.headers))
  const frame = Buffer.allocUnsafe(PREFIX + headers.byteLength + message.body.byteLength)
  frame[0] = VERSION
  frame.writeUInt32BE(headers.byteLength, 1)
  frame.set(headers, PREFIX)
  frame.set(message.body, PREFIX + headers.byteLength)
  return frame
}

const scratch = new Array<unknown>(FIELDS.length)
const ASCII = /^[\x00-\x7f]*$/
// Buffer's own latin1 writer: write(value, at, 'latin1') without parsing its arguments.
const latin1Write = (Buffer.prototype as unknown as { latin1Write?: (this: Buffer, value: string, offset: number) => number }).latin1Write

/**
 * The headers' values in {@link FIELDS} order, in a scratch array that the next call reuses.
 * Read by name: `headers[FIELDS[i]]` is a keyed load of a different key each time, which cost
 * more than the whole rest of the encoding.
 */
function fieldValues(h: TaskHeaders): readonly unknown[] {
  const v = scratch
  v[0] = h.id
  v[1] = h.task
  v[2] = h.retries
  v[3] = h.rootId
  v[4] = h.parentId
  v[5] = h.groupId
  v[6] = h.eta
  v[7] = h.expires
  v[8] = h.timeLimit
  v[9] = h.origin
  v[10] = h.ignoreResult
  v[11] = h.priority
  v[12] = h.contentType
  v[13] = h.headers
  v[14] = h.callbacks
  v[15] = h.errbacks
  v[16] = h.chain
  v[17] = h.chord
  v[18] = h.replyTo
  return v
}

/**
 * The msgpack size of a plain header value (an ASCII string under 256 characters, a number, a
 * boolean, nil), or -1 for anything else. Integers take the smallest unsigned form, as
 * msgpackr writes them; other numbers a float64.
 */
function plainSize(value: unknown): number {
  switch (typeof value) {
    case 'string': {
      const length = value.length
      if (length > 255 || !ASCII.test(value)) return -1
      return (length < 32 ? 1 : 2) + length
    }
    case 'number':
      if (!Number.isInteger(value) || value < -32 || value > 0xffffffff) return 9
      return value < 128 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : 5
    case 'boolean':
      return 1
    default:
      return value === undefined || value === null ? 1 : -1
  }
}

/**
 * The frame of a task whose headers are all plain values, written in one pass into one buffer:
 * the same bytes msgpackr would write, without the tuple, msgpackr's scratch buffer and the
 * copy out of it. Undefined when some header is not plain (canvas, callbacks, user headers).
 */
function plainFrame(headers: TaskHeaders, body: Uint8Array): Uint8Array | undefined {
  // The fields that hold objects when set, checked first: a task with any of them is not plain.
  const h = headers
  if (h.timeLimit !== undefined || h.headers !== undefined || h.callbacks !== undefined || h.errbacks !== undefined || h.chain !== undefined || h.chord !== undefined) return undefined
  const values = fieldValues(headers)
  let count = 0
  let size = 0
  for (let i = 0; i < FIELDS.length; i++) {
    const value = values[i]
    const bytes = plainSize(value)
    if (bytes < 0) return undefined
    size += bytes
    if (value !== undefined && value !== null) count = i + 1
  }
  // Trailing nils are left out, as toTuple does.
  size += (count < 16 ? 1 : 3) - (FIELDS.length - count)
  const frame = Buffer.allocUnsafe(PREFIX + size + body.byteLength)
  frame[0] = VERSION
  frame.writeUInt32BE(size, 1)
  let at = PREFIX
  if (count < 16) frame[at++] = 0x90 | count
  else {
    frame[at++] = 0xdc
    frame.writeUInt16BE(count, at)
    at += 2
  }
  for (let i = 0; i < count; i++) {
    const value = values[i] as string | number | boolean | null | undefined
    if (value === undefined || value === null) frame[at++] = 0xc0
    else if (value === true) frame[at++] = 0xc3
    else if (value === false) frame[at++] = 0xc2
    else if (typeof value === 'string') {
      const length = value.length
      if (length < 32) frame[at++] = 0xa0 | length
      else {
        frame[at++] = 0xd9
        frame[at++] = length
      }
      at += latin1Write === undefined ? frame.write(value, at, 'latin1') : latin1Write.call(frame, value, at)
    } else {
      // The form plainSize chose: fixint, uint8, uint16, uint32 or float64.
      switch (plainSize(value)) {
        case 1:
          frame[at++] = value & 0xff
          break
        case 2:
          frame[at++] = 0xcc
          frame[at++] = value
          break
        case 3:
          frame[at++] = 0xcd
          at = frame.writeUInt16BE(value, at)
          break
        case 5:
          frame[at++] = 0xce
          at = frame.writeUInt32BE(value, at)
          break
        default:
          frame[at++] = 0xcb
          at = frame.writeDoubleBE(value, at)
      }
    }
  }
  frame.set(body, at)
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
/** The string each header field held in the last message read. */
const recent = new Array<unknown>(FIELDS.length)

/** True when `value` is the ASCII string held in `b` from `at`, `length` bytes long. */
function sameAscii(b: Uint8Array, at: number, length: number, value: unknown): value is string {
  if (typeof value !== 'string' || value.length !== length) return false
  for (let k = 0; k < length; k++) if (b[at + k] !== value.charCodeAt(k)) return false
  return true
}

/** Where each string field of the tuple being read starts, and its length. */
const stringAt = new Int32Array(FIELDS.length)
const stringLength = new Int32Array(FIELDS.length)

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
  let strings = 0
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
    // Read once the whole tuple is known to be plain: a task with canvas or user headers makes
    // no string here before msgpackr reads it all again.
    stringAt[i] = at
    stringLength[i] = length
    strings |= 1 << i
    at += length
  }
  if (at !== end) return undefined
  for (let i = 0; strings !== 0; i++, strings >>>= 1) {
    if ((strings & 1) === 0) continue
    const from = stringAt[i]
    const length = stringLength[i]
    // Most strings are the ones the last message had (its task, origin, content type), and a
    // task sent on its own is its own root: those are shared, not read again.
    const last = i === 3 && sameAscii(b, from, length, tuple[0]) ? tuple[0] : recent[i]
    if (sameAscii(b, from, length, last)) tuple[i] = last
    else {
      for (let k = from; k < from + length; k++) if (b[k] > 0x7f) return undefined
      tuple[i] = recent[i] = latin1Slice.call(b, from, from + length)
    }
  }
  return tuple
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
