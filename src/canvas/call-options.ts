import { InvalidArgumentError } from '../errors.js'
import { closestKey } from '../util/closest.js'
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
  kwargs?: Record<string, unknown> | undefined
  /** Run no earlier than this many seconds from now. */
  countdown?: Duration | undefined
  /** Run no earlier than this time. Wins over `countdown`. */
  eta?: Date | undefined
  /** Revoke instead of running after this many seconds from now, or after this time. */
  expires?: Duration | Date | undefined
  /** Queue to send to (through the default exchange, or the queue's declared exchange). */
  queue?: string | undefined
  routingKey?: string | undefined
  exchange?: string | undefined
  /** Task id to use instead of a new UUID. Sending the same id twice within the broker's duplicate window sends once. */
  taskId?: string | undefined
  /** 0 (lowest) to 9 (highest). */
  priority?: number | undefined
  /** Do not store the result of this call. */
  ignoreResult?: boolean | undefined
  /** Headers passed to the task's `request.headers`. */
  headers?: Record<string, unknown> | undefined
  /** Called with the result prepended to its arguments when the task succeeds, in order; a chain or group works too. */
  link?: Callback | readonly Callback[] | undefined
  /**
   * Called in order with (request, error, traceback) when the task fails: `error` is an Error
   * (its class, or a RemoteError with the original `name`, `code`, `message`, `stack`).
   */
  linkError?: Callback | readonly Callback[] | undefined
  /** Hard time limit of this call, seconds. */
  timeLimit?: Duration | undefined
  /** Soft time limit of this call, seconds. */
  softTimeLimit?: Duration | undefined
  /** Serializer of the arguments. */
  serializer?: SerializerName | undefined
  /** Parent task id, set when a task sends another. */
  parentId?: string | undefined
  /** Root task id of a workflow. */
  rootId?: string | undefined
  groupId?: string | undefined
}

/** Every calling option: anything else is a typo, refused before anything is sent. */
export const CALL_OPTION_KEYS = [
  'kwargs', 'countdown', 'eta', 'expires', 'queue', 'routingKey', 'exchange', 'taskId', 'priority', 'ignoreResult', 'headers',
  'link', 'linkError', 'timeLimit', 'softTimeLimit', 'serializer', 'parentId', 'rootId', 'groupId',
] as const satisfies readonly (keyof CallOptions)[]

// The list above names every key of CallOptions: a key added there and not here fails to compile.
const everyCallOption: Exclude<keyof CallOptions, (typeof CALL_OPTION_KEYS)[number]> extends never ? true : never = true
void everyCallOption

/** Celery calling options that celeriac does differently, and what to do instead. */
const CELERY_ONLY: Record<string, string> = {
  retry: 'celeriac retries a send by itself while the broker is out of reach, then rejects with TransportError',
  retryPolicy: 'celeriac retries a send by itself while the broker is out of reach, then rejects with TransportError',
  retry_policy: 'celeriac retries a send by itself while the broker is out of reach, then rejects with TransportError',
  compression: 'messages are not compressed',
  shadow: 'a task is always sent under its own name',
}

/**
 * Refuses what is not calling options: `{ cuntdown: 5 }` would otherwise send the task at once,
 * without a word. TypeScript catches these at compile time; JavaScript, JSON and `as any` do not.
 */
export function checkCallOptions(options: unknown, where: string): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InvalidArgumentError(`${where}: options must be an object, got ${JSON.stringify(options)}`)
  for (const key of Object.keys(options)) {
    if ((CALL_OPTION_KEYS as readonly string[]).includes(key)) continue
    if (Object.hasOwn(CELERY_ONLY, key)) throw new InvalidArgumentError(`${where}: options.${key} is not a celeriac calling option: ${CELERY_ONLY[key]}`)
    const near = closestKey(key, CALL_OPTION_KEYS)
    throw new InvalidArgumentError(`${where}: unknown calling option ${key}${near ? ` (did you mean ${near}?)` : ''}`)
  }
}

/** Throws unless `value` is a priority, 0 to 9, naming `field`: what a send, a task's defaults and a beat entry check alike. */
export function checkPriority(value: unknown, field: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 9) throw new InvalidArgumentError(`${field} must be an integer from 0 to 9, got ${JSON.stringify(value)}`)
  return value as number
}

/** Throws unless each of `queue`, `exchange` and `routingKey` in `options` is absent or a non-empty string; `field` names the key. */
export function checkRouteNames(options: { queue?: unknown; exchange?: unknown; routingKey?: unknown }, field: (key: string) => string): void {
  for (const key of ['queue', 'exchange', 'routingKey'] as const) {
    const value = options[key]
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw new InvalidArgumentError(`${field(key)} must be a non-empty string, got ${JSON.stringify(value)}`)
  }
}
