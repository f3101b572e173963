import { InvalidArgumentError } from '../errors.js'
import { closestKey } from '../util/closest.js'
import { checkPriority, checkRouteNames } from '../canvas/call-options.js'
import { optionalMs, toMs } from '../util/duration.js'
import { parseRateLimit } from '../util/rate-limit.js'
import type { ConfigValues } from '../config/defaults.js'
import { TASK_OPTION_KEYS, type ErrorMatcher, type TaskOptions } from './options.js'
import type { TaskClass } from './task.js'
import type { Arity } from './arity.js'

// Arity moved to arity.ts; re-exported for the modules that import it from here.
export { arityOf, type Arity } from './arity.js'

/** A registered task: its name, its code and its raw options. */
export interface TaskDefinition {
  name: string
  /** A function task, called with `(ctx, ...args)` when bound, `(...args)` otherwise. */
  fn?: (...args: any[]) => unknown
  /** A class task, instantiated once per thread. */
  cls?: TaskClass
  options: TaskOptions<any>
  arity: Arity
}

/** Task options with the app's defaults applied and durations in ms. */
export interface ResolvedTaskOptions {
  bind: boolean
  typing: boolean
  maxRetries: number | null
  defaultRetryDelayMs: number
  autoretryFor: readonly ErrorMatcher[]
  /** 0 = no backoff. */
  retryBackoffMs: number
  retryBackoffMaxMs: number
  retryJitter: boolean
  /** ms between runs; 0 = unlimited. */
  rateLimitIntervalMs: number
  /** ms between runs across every node on the broker; 0 = unlimited. */
  globalRateLimitIntervalMs: number
  timeLimitMs: number | undefined
  softTimeLimitMs: number | undefined
  ignoreResult: boolean
  acksLate: boolean
  rejectOnWorkerLost: boolean
  trackStarted: boolean
  expiresMs: number | undefined
}

/** Applies the app's defaults to a task's options, validating each (errors name the field). */
export function resolveTaskOptions(name: string, options: TaskOptions<any>, conf: ConfigValues): ResolvedTaskOptions {
  const field = (key: string) => `task ${name}: options.${key}`
  checkTaskOptions(options, field)
  const maxRetries = options.maxRetries === undefined ? conf.taskMaxRetries : options.maxRetries
  if (maxRetries !== null && (!Number.isInteger(maxRetries) || maxRetries < 0)) {
    throw new InvalidArgumentError(`${field('maxRetries')} must be a non-negative integer or null, got ${JSON.stringify(maxRetries)}`)
  }
  if (options.params !== undefined) checkParams(options.params, field('params'))
  const backoff = options.retryBackoff ?? false
  const rateLimit = options.rateLimit === undefined ? conf.taskDefaultRateLimit : options.rateLimit
  const timeLimit = options.timeLimit === undefined ? conf.taskTimeLimit : options.timeLimit
  const softTimeLimit = options.softTimeLimit === undefined ? conf.taskSoftTimeLimit : options.softTimeLimit
  return {
    bind: options.bind ?? false,
    typing: options.typing ?? conf.taskTyping,
    maxRetries,
    defaultRetryDelayMs: toMs(options.defaultRetryDelay ?? conf.taskDefaultRetryDelay, field('defaultRetryDelay')),
    autoretryFor: options.autoretryFor ?? [],
    retryBackoffMs: backoff === true ? 1000 : backoff === false ? 0 : toMs(backoff, field('retryBackoff')),
    retryBackoffMaxMs: toMs(options.retryBackoffMax ?? 600, field('retryBackoffMax')),
    retryJitter: options.retryJitter ?? true,
    rateLimitIntervalMs: rateLimit === null ? 0 : parseRateLimit(rateLimit, field('rateLimit')),
    globalRateLimitIntervalMs: options.globalRateLimit == null ? 0 : parseRateLimit(options.globalRateLimit, field('globalRateLimit')),
    timeLimitMs: optionalMs(timeLimit, field('timeLimit')),
    softTimeLimitMs: optionalMs(softTimeLimit, field('softTimeLimit')),
    ignoreResult: options.ignoreResult ?? conf.taskIgnoreResult,
    acksLate: options.acksLate ?? conf.taskAcksLate,
    rejectOnWorkerLost: options.rejectOnWorkerLost ?? conf.taskRejectOnWorkerLost,
    trackStarted: options.trackStarted ?? conf.taskTrackStarted,
    expiresMs: optionalMs(options.expires, field('expires')),
  }
}

/**
 * What resolveTaskOptions does not read itself: unknown keys (a typo such as `maxRetires` would
 * leave the default silently in place), the shape of `autoretryFor`, and the routing defaults,
 * which would otherwise fail every call of the task instead of its registration.
 */
function checkTaskOptions(options: TaskOptions<any>, field: (key: string) => string): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`${field('').slice(0, -1)} must be an object, got ${JSON.stringify(options)}`)
  for (const key of Object.keys(options)) {
    if ((TASK_OPTION_KEYS as readonly string[]).includes(key)) continue
    const near = closestKey(key, TASK_OPTION_KEYS)
    throw new InvalidArgumentError(`${field(key)}: unknown option${near ? ` (did you mean ${near}?)` : ''}`)
  }
  const { autoretryFor, priority } = options
  if (autoretryFor !== undefined) {
    const bad = Array.isArray(autoretryFor) ? autoretryFor.find((m) => typeof m !== 'string' && typeof m !== 'function') : autoretryFor
    if (!Array.isArray(autoretryFor) || bad !== undefined) {
      throw new InvalidArgumentError(`${field('autoretryFor')} must be a list of error classes, names or codes (e.g. [TypeError, 'ECONNRESET']), got ${describeValue(bad)}`)
    }
  }
  if (priority !== undefined) checkPriority(priority, field('priority'))
  checkRouteNames(options, field)
  for (const key of ['bind', 'typing', 'retryJitter', 'ignoreResult', 'acksLate', 'rejectOnWorkerLost', 'trackStarted'] as const) {
    const value = options[key]
    if (value !== undefined && typeof value !== 'boolean') throw new InvalidArgumentError(`${field(key)} must be true or false, got ${JSON.stringify(value)}`)
  }
}

function describeValue(value: unknown): string {
  return typeof value === 'function' ? `the class ${value.name || '(anonymous)'} alone (put it in a list)` : JSON.stringify(value) ?? String(value)
}

function checkParams(params: unknown, field: string): void {
  const names = Array.isArray(params) ? params : undefined
  const bad = names === undefined ? params : names.find((name) => typeof name !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(name))
  if (names === undefined || bad !== undefined) throw new InvalidArgumentError(`${field} must be a list of parameter names, got ${JSON.stringify(bad)}`)
  const twice = names.find((name, i) => names.indexOf(name) !== i)
  if (twice !== undefined) throw new InvalidArgumentError(`${field} names '${twice}' twice`)
}

/** True when `error` is one of the `autoretryFor` matchers (a class, a name or a code). */
export function matchesError(error: unknown, matchers: readonly ErrorMatcher[]): boolean {
  if (!(error instanceof Error) || matchers.length === 0) return false
  const code = (error as { code?: unknown }).code
  return matchers.some((m) => (typeof m === 'string' ? error.name === m || code === m : error instanceof m))
}
