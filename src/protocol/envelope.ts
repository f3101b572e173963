import { SerializationError } from '../errors.js'
import { ContentType, msgpackCodec } from '../serialization/codec.js'

/**
 * Plain-data form of a signature, as it travels in messages (see `canvas/signature.ts`).
 * Only the fields a worker needs to send it: task name, arguments, options.
 */
export interface SignatureData {
  task: string
  args: unknown[]
  kwargs: Record<string, unknown>
  options: Record<string, unknown>
  immutable: boolean
  subtaskType?: string
}

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
}

/** The arguments of a task, encoded with the body's content type. */
export type TaskBody = [args: unknown[], kwargs: Record<string, unknown> | null]

/** A task message: headers plus the still-encoded body. */
export interface TaskMessage {
  headers: TaskHeaders
  body: Uint8Array
}

const VERSION = 1

/** Frames a task message into the bytes a transport carries. */
export function encodeMessage(message: TaskMessage): Uint8Array {
  return msgpackCodec.encode([VERSION, message.headers, message.body])
}

/**
 * Parses the bytes of a task message, checking the frame and the headers a worker relies on.
 * Throws {@link SerializationError} with the reason for anything else.
 */
export function decodeMessage(bytes: Uint8Array): TaskMessage {
  let frame: unknown
  try {
    frame = msgpackCodec.decode(bytes)
  } catch (error) {
    throw new SerializationError(`undecodable task message: ${(error as Error).message}`, { cause: error })
  }
  if (!Array.isArray(frame) || frame.length !== 3 || frame[0] !== VERSION) {
    throw new SerializationError('malformed task message: expected a version 1 frame [1, headers, body]')
  }
  const [, headers, body] = frame as [number, TaskHeaders, Uint8Array]
  if (!(body instanceof Uint8Array)) throw new SerializationError('malformed task message: body is not binary')
  checkHeaders(headers)
  return { headers, body }
}

function checkHeaders(headers: TaskHeaders): void {
  const bad = (field: string, want: string) => {
    throw new SerializationError(`malformed task message: headers${field ? '.' + field : ''} must be ${want}`)
  }
  if (typeof headers !== 'object' || headers === null) bad('', 'an object')
  if (typeof headers.id !== 'string' || headers.id === '') bad('id', 'a non-empty string')
  if (typeof headers.task !== 'string' || headers.task === '') bad('task', 'a non-empty string')
  if (!Number.isInteger(headers.retries) || headers.retries < 0) bad('retries', 'a non-negative integer')
  if (typeof headers.rootId !== 'string') bad('rootId', 'a string')
  if (headers.eta !== undefined && typeof headers.eta !== 'number') bad('eta', 'epoch milliseconds')
  if (headers.expires !== undefined && typeof headers.expires !== 'number') bad('expires', 'epoch milliseconds')
  if (headers.contentType !== ContentType.Msgpack && headers.contentType !== ContentType.Json) {
    bad('contentType', `${ContentType.Msgpack} or ${ContentType.Json}`)
  }
}
