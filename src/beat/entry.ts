/**
 * Beat entries: what `beatSchedule` and `app.addPeriodicTask` hold, validated into what the
 * scheduler runs.
 * @module
 */
import { ConfigError } from '../errors.js'
import { checkArity, type ArityOf } from '../task/arity.js'
import { assertSerializable, codecByName } from '../serialization/codec.js'
import { toMs, type Duration } from '../util/duration.js'
import { checkCallOptions, checkPriority, checkRouteNames } from '../canvas/call-options.js'
import { callbackData } from '../canvas/options-data.js'
import { compileSchedule, type Schedule } from './schedules.js'
import type { CallOptions } from '../canvas/call-options.js'
import type { BeatEntryConfig } from './entry-config.js'

export type { BeatEntryConfig } from './entry-config.js'

/** Options of `app.addPeriodicTask`. */
export interface PeriodicTaskOptions {
  /** The entry's name, unique per app. @default the signature as written, e.g. `tasks.add(2, 2)` */
  name?: string | undefined
  /** Seconds (or a duration string) after each fire time when the call expires unrun. */
  expires?: Duration | undefined
}

/** An entry ready to run: its name, what it sends and its {@link Schedule}. */
export interface BeatEntry {
  readonly name: string
  readonly task: string
  readonly args: readonly unknown[]
  readonly kwargs: Readonly<Record<string, unknown>> | undefined
  /** Call options, without `expires`, which is {@link BeatEntry.expiresMs} from each fire time. */
  readonly options: Readonly<CallOptions>
  readonly expiresMs: number | undefined
  readonly schedule: Schedule
}

/** What compiling an entry needs from its app. */
export interface EntryContext {
  timezone: string
  now: number
  /** Registered tasks, whose arity is checked against the entry's arguments. */
  tasks: ReadonlyMap<string, ArityOf>
}

const KEYS = new Set(['task', 'schedule', 'args', 'kwargs', 'options', 'relative'])
const BEAT_SETS = ['taskId', 'eta', 'countdown', 'kwargs'] as const

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** Validates one entry; every error is a {@link ConfigError} naming the entry and the field. */
export function compileEntry(name: string, config: BeatEntryConfig, ctx: EntryContext): BeatEntry {
  const where = `beat entry ${JSON.stringify(name)}`
  const fail = (why: string, cause?: unknown): never => {
    throw new ConfigError(`${where}: ${why}`, cause === undefined ? undefined : { cause })
  }
  if (!isObject(config)) fail(`expected an object { task, schedule, args, kwargs, options, relative }, got ${JSON.stringify(config) ?? String(config)}`)
  const unknown = Object.keys(config).find((key) => !KEYS.has(key))
  if (unknown !== undefined) fail(`unknown field "${unknown}" (fields: ${[...KEYS].join(', ')})`)
  if (typeof config.task !== 'string' || config.task === '') fail(`task must be a task name, got ${JSON.stringify(config.task)}`)
  if (config.schedule === undefined) fail('schedule is required')
  const args = config.args ?? []
  if (!Array.isArray(args)) fail(`args must be an array, got ${JSON.stringify(args)}`)
  if (config.kwargs !== undefined && !isObject(config.kwargs)) fail(`kwargs must be an object, got ${JSON.stringify(config.kwargs)}`)
  if (config.options !== undefined && !isObject(config.options)) fail(`options must be an object, got ${JSON.stringify(config.options)}`)
  if (config.relative !== undefined && typeof config.relative !== 'boolean') fail(`relative must be a boolean, got ${JSON.stringify(config.relative)}`)
  const { expires, ...options } = (config.options ?? {}) as CallOptions
  const set = BEAT_SETS.find((key) => key in options)
  if (set !== undefined) fail(`options.${set} cannot be set: beat sets it for every firing`)
  try {
    // What a send would refuse at every fire time is refused now, once: a typo (queu) would
    // otherwise send to the default queue, a bad value fail each firing.
    checkCallOptions(options, 'options')
    checkOptionValues(options)
  } catch (error) {
    fail((error as Error).message, error)
  }
  let expiresMs: number | undefined
  if (expires !== undefined) {
    if (expires instanceof Date) fail('options.expires must be seconds (or a duration string) from each fire time, not a Date')
    try {
      expiresMs = toMs(expires as Duration, 'options.expires')
    } catch (error) {
      fail((error as Error).message, error)
    }
  }
  try {
    assertSerializable(args, 'args')
    if (config.kwargs !== undefined) assertSerializable(config.kwargs, 'kwargs')
    const definition = ctx.tasks.get(config.task)
    if (definition) checkArity(definition, args, config.kwargs)
  } catch (error) {
    fail((error as Error).message, error)
  }
  const schedule = compileSchedule(config.schedule, { where, timezone: ctx.timezone, relative: config.relative, now: ctx.now })
  return { name, task: config.task, args: [...args], kwargs: config.kwargs && { ...config.kwargs }, options, expiresMs, schedule }
}

/** The values a send checks, checked once here; throws what the send would. */
function checkOptionValues(options: CallOptions): void {
  const { priority, timeLimit, softTimeLimit, serializer, headers, link, linkError, ignoreResult } = options
  if (priority !== undefined) checkPriority(priority, 'options.priority')
  checkRouteNames(options, (key) => `options.${key}`)
  if (ignoreResult !== undefined && typeof ignoreResult !== 'boolean') throw new Error(`options.ignoreResult must be true or false, got ${JSON.stringify(ignoreResult)}`)
  if (timeLimit !== undefined) toMs(timeLimit, 'options.timeLimit')
  if (softTimeLimit !== undefined) toMs(softTimeLimit, 'options.softTimeLimit')
  if (serializer !== undefined) codecByName(serializer)
  if (headers !== undefined) assertSerializable(headers, 'options.headers')
  callbackData(link, 'options.link')
  callbackData(linkError, 'options.linkError')
}

/** Validates every entry of a `beatSchedule`. */
export function compileEntries(schedule: Readonly<Record<string, BeatEntryConfig>>, ctx: EntryContext): BeatEntry[] {
  return Object.entries(schedule).map(([name, config]) => compileEntry(name, config, ctx))
}

/** The default name of a periodic task added from a signature, as Celery's `repr(sig)`: `tasks.add(2, 2)`. */
export function signatureName(task: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): string {
  const parts = [...args.map((arg) => JSON.stringify(arg) ?? String(arg)), ...Object.entries(kwargs).map(([key, value]) => `${key}=${JSON.stringify(value) ?? String(value)}`)]
  return `${task}(${parts.join(', ')})`
}
