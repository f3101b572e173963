import type { Duration } from '../util/duration.js'
import type { SerializerName } from '../serialization/codec.js'
import type { SignatureData } from './data.js'

/**
 * A callback as `link` and `linkError` take it: a signature (anything with `toJSON()` giving
 * its data, so this file needs no canvas class) or its plain data.
 */
export type Callback = { toJSON(): SignatureData } | SignatureData

/** Options of `applyAsync` (Celery's calling options). Every field is optional. */
export interface CallOptions {
  /**
   * Keyword arguments, bound by parameter name (the task's `params` option, else the names in
   * its code); when a key names no parameter, they reach the task as one trailing object
   * argument instead (see `bindArguments` in task/arity.ts).
   */
  kwargs?: Record<string, unknown>
  /** Run no earlier than this many seconds from now. */
  countdown?: Duration
  /** Run no earlier than this time. Wins over `countdown`. */
  eta?: Date
  /** Revoke instead of running after this many seconds from now, or after this time. */
  expires?: Duration | Date
  /** Queue to send to (through the default exchange, or the queue's declared exchange). */
  queue?: string
  routingKey?: string
  exchange?: string
  /** Task id to use instead of a new UUID. Sending the same id twice within the broker's duplicate window sends once. */
  taskId?: string
  /** 0 (lowest) to 9 (highest). */
  priority?: number
  /** Do not store the result of this call. */
  ignoreResult?: boolean
  /** Headers passed to the task's `request.headers`. */
  headers?: Record<string, unknown>
  /** Called with the result prepended to its arguments when the task succeeds, in order; a chain or group works too. */
  link?: Callback | readonly Callback[]
  /**
   * Called in order with (request, error, traceback) when the task fails: `error` is an Error
   * (its class, or a RemoteError with the original `name`, `code`, `message`, `stack`).
   */
  linkError?: Callback | readonly Callback[]
  /** Hard time limit of this call, seconds. */
  timeLimit?: Duration
  /** Soft time limit of this call, seconds. */
  softTimeLimit?: Duration
  /** Serializer of the arguments. */
  serializer?: SerializerName
  /** Parent task id, set when a task sends another. */
  parentId?: string
  /** Root task id of a workflow. */
  rootId?: string
  groupId?: string
}
