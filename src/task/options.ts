import type { Duration } from '../util/duration.js'
import type { TaskState } from '../lifecycle/states.js'
import type { TaskRequest } from './context.js'

/** An error class, name or code that triggers an automatic retry. */
export type ErrorMatcher = (abstract new (...args: never[]) => Error) | string

/** Options of a task, given to `app.task(name, fn, options)`. Every field is optional. */
export interface TaskOptions<R = unknown> {
  /** Pass a {@link TaskContext} as the first argument of a function task. Class tasks are always bound. */
  bind?: boolean | undefined
  /** Check the arguments when the task is called (count, keyword names). @default config.taskTyping */
  typing?: boolean | undefined
  /**
   * The names of the task's parameters, in order (the bound context left out), for binding
   * kwargs by name: with `['x', 'y']`, kwargs `{ x: 1, y: 2 }` call the task with `(1, 2)`.
   * Without it the names are read from the task's code (plain names, with or without a
   * default); declare them when the code has destructured or rest parameters, or is minified.
   */
  params?: readonly string[] | undefined
  /** Retries before the task fails with the retry's `exc` (MaxRetriesExceeded without one); `null` retries forever. @default config.taskMaxRetries */
  maxRetries?: number | null | undefined
  /** Delay before a retry, seconds or a duration string. @default config.taskDefaultRetryDelay */
  defaultRetryDelay?: Duration | undefined
  /** Errors (classes, names or codes) that retry the task automatically. */
  autoretryFor?: readonly ErrorMatcher[] | undefined
  /** Exponential backoff for automatic retries: `true` (factor 1 s) or the factor in seconds. @default false */
  retryBackoff?: boolean | number | undefined
  /** Cap of the backoff delay, seconds. @default 600 */
  retryBackoffMax?: Duration | undefined
  /** Randomise the backoff delay between 0 and its value ("full jitter"). @default true */
  retryJitter?: boolean | undefined
  /** At most this many runs per node: `'10/s'`, `'10/m'`, `'10/h'`. @default config.taskDefaultRateLimit */
  rateLimit?: string | null | undefined
  /**
   * At most this many runs across every node on the broker (a cluster-wide limit, shared
   * through the broker): `'10/s'`, `'10/m'`, `'10/h'`, or a number per second. With `rateLimit`
   * too, a run waits for both. `null` or absent: none. @default null
   */
  globalRateLimit?: string | number | null | undefined
  /** Hard time limit: the thread is terminated, FAILURE TimeLimitExceeded. @default config.taskTimeLimit */
  timeLimit?: Duration | null | undefined
  /** Soft time limit: the task's `signal` aborts with SoftTimeLimitExceeded. @default config.taskSoftTimeLimit */
  softTimeLimit?: Duration | null | undefined
  /** Do not store the result. @default config.taskIgnoreResult */
  ignoreResult?: boolean | undefined
  /** Ack after the task ran instead of before. @default config.taskAcksLate */
  acksLate?: boolean | undefined
  /** With `acksLate`, requeue instead of failing when the thread dies. @default config.taskRejectOnWorkerLost */
  rejectOnWorkerLost?: boolean | undefined
  /** Record STARTED when the task begins. @default config.taskTrackStarted */
  trackStarted?: boolean | undefined
  /** Default queue of the task (routes and call options win). */
  queue?: string | undefined
  /** Default exchange of the task. */
  exchange?: string | undefined
  /** Default routing key of the task. */
  routingKey?: string | undefined
  /** Default priority, 0-9. */
  priority?: number | undefined
  /** Default expiry of calls, seconds from sending. */
  expires?: Duration | undefined
  /** Called in the worker thread after the task succeeded. */
  onSuccess?: ((result: R, request: TaskRequest) => void | Promise<void>) | undefined
  /** Called in the worker thread after the task failed. */
  onFailure?: ((error: unknown, request: TaskRequest) => void | Promise<void>) | undefined
  /** Called in the worker thread when the task is about to be retried. */
  onRetry?: ((error: unknown, request: TaskRequest) => void | Promise<void>) | undefined
  /** Called in the worker thread after the task ran, whatever the outcome. */
  afterReturn?: ((state: TaskState, resultOrError: unknown, request: TaskRequest) => void | Promise<void>) | undefined
}

/** Every option `app.task` takes: anything else is a typo, refused when the task is registered. */
export const TASK_OPTION_KEYS = [
  'bind', 'typing', 'params', 'maxRetries', 'defaultRetryDelay', 'autoretryFor', 'retryBackoff', 'retryBackoffMax', 'retryJitter',
  'rateLimit', 'globalRateLimit', 'timeLimit', 'softTimeLimit', 'ignoreResult', 'acksLate', 'rejectOnWorkerLost', 'trackStarted',
  'queue', 'exchange', 'routingKey', 'priority', 'expires', 'onSuccess', 'onFailure', 'onRetry', 'afterReturn',
] as const satisfies readonly (keyof TaskOptions)[]

// The list above names every key of TaskOptions: a key added there and not here fails to compile.
const everyTaskOption: Exclude<keyof TaskOptions, (typeof TASK_OPTION_KEYS)[number]> extends never ? true : never = true
void everyTaskOption
