/**
 * Canvas as plain data: what travels in messages and in chord records. Every form survives
 * msgpack and JSON, so a signature can be an argument of a task or sent on its own.
 * @module
 */
import { InvalidArgumentError } from '../errors.js'

/** One task call: name, arguments, call options. */
export interface TaskSignatureData {
  subtaskType?: undefined
  task: string
  args: unknown[]
  kwargs: Record<string, unknown>
  options: Record<string, unknown>
  /** The parent's result is not prepended to `args`. */
  immutable: boolean
}

/** Steps run one after the other, each receiving the previous one's result. */
export interface ChainData {
  subtaskType: 'chain'
  tasks: SignatureData[]
  options: Record<string, unknown>
}

/** Members run in parallel; the result is the list of their results. */
export interface GroupData {
  subtaskType: 'group'
  tasks: SignatureData[]
  options: Record<string, unknown>
}

/** A group whose list of results is passed to `body` once every member is done. */
export interface ChordData {
  subtaskType: 'chord'
  header: SignatureData[]
  body: SignatureData
  options: Record<string, unknown>
}

export type SignatureData = TaskSignatureData | ChainData | GroupData | ChordData

/**
 * Where a task stands in a chord: it is member `index` of the chord `id` of `size` members.
 * Carried by the task whose completion completes the member (the last step of a chain member).
 */
export interface ChordRef {
  id: string
  index: number
  size: number
}

/**
 * A chord waiting for its header, as the backend keeps it: what the member that completes it
 * needs to call the body.
 */
export interface ChordRecord {
  id: string
  size: number
  /** The body, frozen (its task id set). */
  body: SignatureData
  /** Result ids of the header's members, in order. */
  results: string[]
  rootId: string
  /** What follows the body: the rest of a chain it is a step of... */
  chain?: SignatureData[]
  /** ...or the outer chord it completes a member of. */
  chord?: ChordRef
}

/** Type guard for the plain-data form of any signature. */
export function isSignatureData(value: unknown): value is SignatureData {
  if (typeof value !== 'object' || value === null) return false
  const data = value as Record<string, unknown>
  switch (data.subtaskType) {
    case undefined:
    case null:
      return typeof data.task === 'string' && Array.isArray(data.args)
    case 'chain':
    case 'group':
      return Array.isArray(data.tasks)
    case 'chord':
      return Array.isArray(data.header) && typeof data.body === 'object' && data.body !== null
    default:
      return false
  }
}

/**
 * Signature data as the canvas layer reads it, whoever wrote it (`toJSON()`, a message, a
 * user): checked, with the parts that may be left out filled in (kwargs, options, immutable).
 * Rebuilding a canvas (`signature(data)`) and planning one read data through this alone.
 * @throws InvalidArgumentError when `value` (or a part of it) is not signature data
 */
export function readSignature(value: unknown): SignatureData {
  if (!isSignatureData(value)) throw new InvalidArgumentError(`not a signature: ${describe(value)}`)
  const options = { ...value.options }
  switch (value.subtaskType) {
    case 'chain':
    case 'group':
      return { subtaskType: value.subtaskType, tasks: value.tasks.map(readSignature), options }
    case 'chord':
      return { subtaskType: 'chord', header: value.header.map(readSignature), body: readSignature(value.body), options }
    default:
      return { task: value.task, args: [...value.args], kwargs: { ...value.kwargs }, options, immutable: value.immutable ?? false }
  }
}

/** What a value is, for an error message: `null`, `an array`, its class name, or its type. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value
}
