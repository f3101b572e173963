/**
 * The one schema of a task message's headers, checked when a message is decoded and before
 * anything acts on it. Anyone who can publish to a queue subject can send anything: every
 * field a worker reads is checked here for type, range and length, so that nothing downstream
 * (the canvas flow, the result backend, the broker's subjects, timers) meets a value it cannot
 * take. A failed check throws {@link InvalidMessageError} whose message names the field, what
 * it must be, and what it was: the reason the message is dead-lettered with.
 *
 * Hand-written checks: they run once per message on the worker's main thread, cost well under a
 * microsecond for a plain task, and need no dependency.
 * @module
 */
import { SerializationError } from '../errors.js'
import { ContentType } from '../serialization/codec.js'

/**
 * Bounds of the fields of a task message. Ids and names end up in subjects (results, replies,
 * revokes) and keys: 256 characters keeps any subject built from them far below what NATS
 * takes (a control line of 4 KiB by default), with room for a prefix.
 */
export const MESSAGE_LIMITS = {
  /** Task ids, root/parent/group ids, chord ids, signature task ids. */
  idLength: 256,
  /** Task names. */
  nameLength: 256,
  /** `replyTo`, a subject. */
  subjectLength: 256,
  /** `origin`. */
  originLength: 1024,
  /** Retries far beyond any policy: past this a counter is garbage, not a retry. */
  retries: 1_000_000,
  /**
   * Latest `eta`/`expires` accepted: the year 2200 (epoch ms). A later one is garbage, or a
   * message parked forever in the broker.
   */
  maxEpochMs: Date.UTC(2200, 0, 1),
  /** Per-call time limits, ms: the longest delay a Node timer takes (a longer one fires at once). */
  timeLimitMs: 2_147_483_647,
  /** How deep signatures may nest (a chain in a group in a chord...) inside a message. */
  signatureDepth: 32,
} as const

/** A message that decodes but breaks the schema; its message is the dead-letter reason. */
export class InvalidMessageError extends SerializationError {
  /** The message's task id, and its name when that passed (see {@link validateHeaders}): what a log line names it by. */
  task?: { id: string; task?: string }
}

// The client refuses an empty subject or one with whitespace (InvalidSubjectError, thrown out
// of a publish); the server closes a connection over a subject with empty tokens or control
// characters; wildcards are for subscriptions. This is all of them, checked before any publish.
const SUBJECT_TOKEN = /^[^\s\x00-\x1f\x7f*>.]+$/

type Check = (value: unknown, path: string) => void

function fail(path: string, want: string, value: unknown): never {
  throw new InvalidMessageError(`invalid message: ${path} must be ${want}, got ${show(value)}`)
}

/** A short, safe rendering of a bad value for a reason: never the whole of a large one. */
export function show(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value)
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return String(value)
    case 'object':
      if (value === null) return 'null'
      if (Array.isArray(value)) return `an array of ${value.length}`
      if (value instanceof Uint8Array) return `${value.byteLength} bytes`
      return isPlainObject(value) ? 'an object' : `a ${Object.prototype.toString.call(value).slice(8, -1)}`
    default:
      return typeof value
  }
}

/** An object made by an object literal or `Object.create(null)`: what msgpack and JSON decode maps to. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

const boundedString = (max: number, empty = false): Check => (value, path) => {
  if (typeof value !== 'string' || value.length > max || (!empty && value === '')) {
    fail(path, `a ${empty ? '' : 'non-empty '}string of at most ${max} characters`, value)
  }
}

const id = boundedString(MESSAGE_LIMITS.idLength)
const anyId = boundedString(MESSAGE_LIMITS.idLength, true)
const name = boundedString(MESSAGE_LIMITS.nameLength)
const origin = boundedString(MESSAGE_LIMITS.originLength, true)

function epochMs(value: unknown, path: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MESSAGE_LIMITS.maxEpochMs) {
    fail(path, `epoch milliseconds from 0 to ${MESSAGE_LIMITS.maxEpochMs} (the year 2200)`, value)
  }
}

function limitMs(value: unknown, path: string): void {
  if (value === null) return
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MESSAGE_LIMITS.timeLimitMs) {
    fail(path, `null or milliseconds from 0 to ${MESSAGE_LIMITS.timeLimitMs}`, value)
  }
}

/** True when `value` is a subject the client can publish to (see {@link MESSAGE_LIMITS}). */
export function isSubject(value: unknown): value is string {
  if (typeof value !== 'string' || value === '' || value.length > MESSAGE_LIMITS.subjectLength) return false
  for (const token of value.split('.')) if (!SUBJECT_TOKEN.test(token)) return false
  return true
}

/**
 * Whether a worker may publish to `subject` when a message names it as where to reply (a
 * task's `replyTo`, a control request's reply inbox): a subject that is not the state of the
 * broker or of celeriac. The sender chooses it, and whoever may only send tasks must not get
 * a worker (which may write results) to write for it: `$KV.<results>.<id>` would forge another
 * task's result, a `$JS.API` subject would act on a stream, `<ns>.bus.events...` would feed
 * the dashboard. Refused: `$...` (JetStream API, KV, object store, system), `_kvr.` (KV
 * republish), and a namespace's queues, dead letters and bus (`<ns>.q.`, `<ns>.dlq.`,
 * `<ns>.bus.`: a second token of q, dlq or bus, whatever the first, as the worker does not
 * know every namespace on the server). Inboxes (`_INBOX.`, an `inboxPrefix`, which config
 * checks against this rule) and rpc replies (`<prefix>.rpc-reply.`) pass.
 */
export function isReplySubject(subject: unknown): subject is string {
  if (!isSubject(subject) || subject.startsWith('$') || subject.startsWith('_kvr.')) return false
  const second = subject.split('.', 2)[1]
  return second !== 'q' && second !== 'dlq' && second !== 'bus'
}

function plainObject(value: unknown, path: string): void {
  if (!isPlainObject(value)) fail(path, 'an object', value)
}

function signatures(value: unknown, path: string, depth: number): void {
  if (!Array.isArray(value)) fail(path, 'a list of signatures', value)
  for (let i = 0; i < value.length; i++) signature(value[i], `${path}[${i}]`, depth)
}

/**
 * Signature data as the canvas flow reads it (canvas/data.ts): the shape `readSignature` takes,
 * with the ids and names it uses bounded, checked down to every nested part.
 */
function signature(value: unknown, path: string, depth: number): void {
  if (depth > MESSAGE_LIMITS.signatureDepth) fail(path, `a signature nested at most ${MESSAGE_LIMITS.signatureDepth} deep`, value)
  if (!isPlainObject(value)) fail(path, 'a signature', value)
  const options = value.options
  if (options !== undefined) {
    if (!isPlainObject(options)) fail(`${path}.options`, 'an object', options)
    if (options.taskId !== undefined) id(options.taskId, `${path}.options.taskId`)
    if (options.groupId !== undefined) id(options.groupId, `${path}.options.groupId`)
    for (const key of ['link', 'linkError'] as const) {
      const callbacks = options[key]
      if (callbacks === undefined) continue
      if (Array.isArray(callbacks)) signatures(callbacks, `${path}.options.${key}`, depth + 1)
      else signature(callbacks, `${path}.options.${key}`, depth + 1)
    }
  }
  switch (value.subtaskType) {
    case undefined:
    case null:
      name(value.task, `${path}.task`)
      if (!Array.isArray(value.args)) fail(`${path}.args`, 'a list', value.args)
      if (value.kwargs !== undefined && value.kwargs !== null) plainObject(value.kwargs, `${path}.kwargs`)
      if (value.immutable !== undefined && typeof value.immutable !== 'boolean') fail(`${path}.immutable`, 'a boolean', value.immutable)
      return
    case 'chain':
    case 'group':
      return signatures(value.tasks, `${path}.tasks`, depth + 1)
    case 'chord':
      signatures(value.header, `${path}.header`, depth + 1)
      return signature(value.body, `${path}.body`, depth + 1)
    default:
      fail(`${path}.subtaskType`, 'chain, group, chord or absent', value.subtaskType)
  }
}

function chordRef(value: unknown, path: string): void {
  if (!isPlainObject(value)) fail(path, 'a chord reference { id, index, size }', value)
  id(value.id, `${path}.id`)
  const { size, index } = value
  if (!Number.isSafeInteger(size) || (size as number) < 1) fail(`${path}.size`, 'a positive integer', size)
  if (!Number.isSafeInteger(index) || (index as number) < 0 || (index as number) >= (size as number)) {
    fail(`${path}.index`, 'an integer from 0 to size-1', index)
  }
}

/**
 * Checks decoded headers against the schema of a task message's headers (`TaskHeaders`,
 * envelope.ts): every field it declares, and nothing else is read.
 * @throws InvalidMessageError naming the first field that breaks it
 */
export function validateHeaders(h: Readonly<Record<string, unknown>>): void {
  id(h.id, 'headers.id')
  try {
    validateRest(h)
  } catch (error) {
    if (error instanceof InvalidMessageError) error.task = { id: h.id as string, ...(typeof h.task === 'string' && h.task !== '' && h.task.length <= MESSAGE_LIMITS.nameLength ? { task: h.task } : {}) }
    throw error
  }
}

function validateRest(h: Readonly<Record<string, unknown>>): void {
  name(h.task, 'headers.task')
  const retries = h.retries
  if (!Number.isSafeInteger(retries) || (retries as number) < 0 || (retries as number) > MESSAGE_LIMITS.retries) {
    fail('headers.retries', `a non-negative integer of at most ${MESSAGE_LIMITS.retries}`, retries)
  }
  // A task sent on its own may have an empty root; the publisher sets it to the id otherwise.
  anyId(h.rootId, 'headers.rootId')
  if (h.contentType !== ContentType.Msgpack && h.contentType !== ContentType.Json) {
    fail('headers.contentType', `${ContentType.Msgpack} or ${ContentType.Json}`, h.contentType)
  }
  // The optional fields: only present ones are read (null never reaches here: see fromTuple).
  if (h.parentId !== undefined) id(h.parentId, 'headers.parentId')
  if (h.groupId !== undefined) id(h.groupId, 'headers.groupId')
  if (h.eta !== undefined) epochMs(h.eta, 'headers.eta')
  if (h.expires !== undefined) epochMs(h.expires, 'headers.expires')
  if (h.timeLimit !== undefined) {
    const limit = h.timeLimit
    if (!Array.isArray(limit) || limit.length !== 2) fail('headers.timeLimit', 'a pair [soft, hard]', limit)
    limitMs(limit[0], 'headers.timeLimit[0]')
    limitMs(limit[1], 'headers.timeLimit[1]')
  }
  if (h.origin !== undefined) origin(h.origin, 'headers.origin')
  if (h.ignoreResult !== undefined && typeof h.ignoreResult !== 'boolean') fail('headers.ignoreResult', 'a boolean', h.ignoreResult)
  if (h.priority !== undefined) {
    const p = h.priority
    if (!Number.isInteger(p) || (p as number) < 0 || (p as number) > 9) fail('headers.priority', 'an integer from 0 to 9', p)
  }
  if (h.headers !== undefined) plainObject(h.headers, 'headers.headers')
  if (h.callbacks !== undefined) signatures(h.callbacks, 'headers.callbacks', 1)
  if (h.errbacks !== undefined) signatures(h.errbacks, 'headers.errbacks', 1)
  if (h.chain !== undefined) {
    signatures(h.chain, 'headers.chain', 1)
    if ((h.chain as unknown[]).length === 0) fail('headers.chain', 'a non-empty list of signatures', h.chain)
  }
  if (h.chord !== undefined) chordRef(h.chord, 'headers.chord')
  if (h.replyTo !== undefined && !isReplySubject(h.replyTo)) {
    fail('headers.replyTo', `a reply subject (dot-separated tokens without spaces, control characters or wildcards, at most ${MESSAGE_LIMITS.subjectLength} characters; not a $ subject of JetStream or KV, nor a queue, dead-letter or bus subject)`, h.replyTo)
  }
}

/**
 * Checks a decoded body: `[args, kwargs]`, args a list and kwargs null or an object.
 * @throws InvalidMessageError naming the part that breaks it
 */
export function validateBody(body: unknown): asserts body is [unknown[], Record<string, unknown> | null] {
  if (!Array.isArray(body) || body.length < 1 || body.length > 2) fail('body', 'a list [args, kwargs]', body)
  if (!Array.isArray(body[0])) fail('body.args', 'a list', body[0])
  const kwargs = body[1]
  if (kwargs !== undefined && kwargs !== null && !isPlainObject(kwargs)) fail('body.kwargs', 'null or an object', kwargs)
}
