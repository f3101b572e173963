import { ConfigError } from '../errors.js'
import { toMs, type Duration } from '../util/duration.js'
import { parseRateLimit } from '../util/rate-limit.js'
import { isTimeZone } from '../util/time-zone.js'
import { DEFAULTS, SECRET_KEYS, type ConfigValues } from './defaults.js'
import { closestKey } from '../util/closest.js'
import { isReplySubject } from '../protocol/validate-envelope.js'

type Check = (value: unknown, key: string) => void

const fail = (key: string, want: string, value: unknown): never => {
  throw new ConfigError(`config.${key} must be ${want}, got ${JSON.stringify(value) ?? String(value)}`)
}
const isBool: Check = (v, k) => void (typeof v !== 'boolean' && fail(k, 'a boolean', v))
const isString: Check = (v, k) => void (typeof v !== 'string' && fail(k, 'a string', v))
const isUrl: Check = (v, k) => void ((typeof v !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) && fail(k, 'a URL such as memory:// or nats://host:4222', v))
const isDuration: Check = (v, k) => {
  try {
    toMs(v as Duration, `config.${k}`)
  } catch {
    fail(k, "a non-negative number of seconds or a duration string like '10s'", v)
  }
}
const orNull = (check: Check): Check => (v, k) => void (v !== null && check(v, k))
const isPositiveInt: Check = (v, k) => void ((!Number.isInteger(v) || (v as number) < 1) && fail(k, 'a positive integer', v))
const isNonNegativeInt: Check = (v, k) => void ((!Number.isInteger(v) || (v as number) < 0) && fail(k, 'a non-negative integer', v))
const isSerializer: Check = (v, k) => void (v !== 'msgpack' && v !== 'json' && fail(k, "'msgpack' or 'json'", v))
const isStringArray: Check = (v, k) => void ((!Array.isArray(v) || v.some((s) => typeof s !== 'string')) && fail(k, 'an array of strings', v))
const isRateLimit: Check = (v, k) => {
  try {
    parseRateLimit(v as string, `config.${k}`)
  } catch (error) {
    throw new ConfigError((error as Error).message)
  }
}
const isPriority: Check = (v, k) => void ((!Number.isInteger(v) || (v as number) < 0 || (v as number) > 9) && fail(k, 'an integer from 0 to 9', v))
const ROUTE_KEYS = ['queue', 'exchange', 'routingKey', 'priority']
// Celery's task_routes: a queue name or a route. Anything else (a typo, a number) would
// otherwise send the task to the default queue without a word.
const isRouteTarget: Check = (v, k) => {
  const want = `a queue name or a route with ${ROUTE_KEYS.join(', ')}`
  if (typeof v === 'string') return void (v === '' && fail(k, want, v))
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof RegExp) fail(k, want, v)
  for (const [name, value] of Object.entries(v as object)) {
    if (!ROUTE_KEYS.includes(name)) {
      const near = closestKey(name, ROUTE_KEYS)
      throw new ConfigError(`unknown route key "${name}" in config.${k}${near ? ` (did you mean "${near}"?)` : ''}; a route may hold ${ROUTE_KEYS.join(', ')}`)
    }
    if (value === undefined) continue
    if (name === 'priority') isPriority(value, `${k}.priority`)
    else if (name === 'queue') void ((typeof value !== 'string' || value === '') && fail(`${k}.queue`, 'a non-empty string', value))
    else isString(value, `${k}.${name}`)
  }
}
const isRoutes: Check = (v, k) => {
  const shape = 'an object of routes by task name or a list of [pattern, target] pairs'
  if (Array.isArray(v)) {
    if (!v.every((pair) => Array.isArray(pair) && pair.length === 2)) fail(k, shape, v)
    ;(v as [unknown, unknown][]).forEach(([pattern, target], i) => {
      if (typeof pattern !== 'string' && !(pattern instanceof RegExp)) fail(`${k}[${i}][0]`, 'a task name, a glob or a RegExp', pattern)
      isRouteTarget(target, `${k}[${i}][1]`)
    })
  } else if (typeof v === 'object' && v !== null && !(v instanceof RegExp)) {
    for (const [name, target] of Object.entries(v)) isRouteTarget(target, `${k}[${JSON.stringify(name)}]`)
  } else fail(k, shape, v)
}
const isPlainObject: Check = (v, k) => void ((typeof v !== 'object' || v === null || Array.isArray(v)) && fail(k, 'an object', v))
const isTimeZoneName: Check = (v, k) => void (!isTimeZone(v) && fail(k, "a time zone name such as 'UTC' or 'Europe/London'", v))
const isPositiveDuration: Check = (v, k) => {
  isDuration(v, k)
  if (toMs(v as Duration, `config.${k}`) === 0) fail(k, 'a positive duration', v)
}
const isNamespace: Check = (v, k) => void ((typeof v !== 'string' || !/^[A-Za-z0-9_-]+$/.test(v)) && fail(k, 'letters, digits, "_" or "-"', v))
const isReplicaCount: Check = (v, k) => void ((!Number.isInteger(v) || (v as number) < 1 || (v as number) > 5) && fail(k, 'an integer from 1 to 5', v))
// Each entry is checked in full, naming it, when a beat starts (beat/entry.ts).
const isBeatSchedule: Check = (v, k) => {
  isPlainObject(v, k)
  for (const [name, entry] of Object.entries(v as object)) isPlainObject(entry, `${k}[${JSON.stringify(name)}]`)
}
const isQueues: Check = (v, k) => {
  if (!Array.isArray(v)) fail(k, 'an array of queue declarations', v)
  ;(v as unknown[]).forEach((q, i) => {
    if (typeof q !== 'object' || q === null || typeof (q as { name?: unknown }).name !== 'string') fail(`${k}[${i}].name`, 'a string', q)
    const type = (q as { exchangeType?: unknown }).exchangeType
    if (type !== undefined && type !== 'direct' && type !== 'topic' && type !== 'fanout') fail(`${k}[${i}].exchangeType`, "'direct', 'topic' or 'fanout'", type)
    const { maxDeliver, maxAge } = q as { maxDeliver?: unknown; maxAge?: unknown }
    if (maxDeliver !== undefined) orNull(isPositiveInt)(maxDeliver, `${k}[${i}].maxDeliver`)
    if (maxAge !== undefined) isPositiveDuration(maxAge, `${k}[${i}].maxAge`)
  })
}

const isTlsFiles: Check = (v, k) => {
  isPlainObject(v, k)
  for (const [name, path] of Object.entries(v as object)) {
    if (name !== 'ca' && name !== 'cert' && name !== 'key') fail(`${k}.${name}`, 'one of ca, cert, key', name)
    if (typeof path !== 'string') fail(`${k}.${name}`, 'a file path', path)
  }
}
const isInboxPrefix: Check = (v, k) => {
  if (typeof v !== 'string' || (v !== '' && !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(v))) fail(k, 'subject tokens such as "_INBOX.alice"', v)
  // Replies under it must pass the workers' reply-subject rule (see isReplySubject).
  if (v !== '' && !isReplySubject(`${v as string}.x`)) fail(k, 'a prefix whose second token is not q, dlq or bus, nor _kvr (workers refuse to reply under those: they are queue, dead-letter, bus and KV subjects)', v)
}

const CHECKS: { [K in keyof ConfigValues]: Check } = {
  broker: isUrl,
  backend: isUrl,
  include: isStringArray,
  resultExpires: isDuration,
  taskSerializer: isSerializer,
  resultSerializer: isSerializer,
  taskDefaultQueue: isString,
  taskRoutes: isRoutes,
  taskQueues: isQueues,
  createMissingQueues: isBool,
  taskAcksLate: isBool,
  taskRejectOnWorkerLost: isBool,
  taskTrackStarted: isBool,
  taskTimeLimit: orNull(isDuration),
  taskSoftTimeLimit: orNull(isDuration),
  taskDefaultRateLimit: orNull(isRateLimit),
  taskIgnoreResult: isBool,
  taskDefaultRetryDelay: isDuration,
  taskMaxRetries: orNull(isNonNegativeInt),
  taskTyping: isBool,
  taskSendSentEvent: isBool,
  workerConcurrency: isPositiveInt,
  workerTasksPerThread: isPositiveInt,
  workerPrefetchMultiplier: orNull(isPositiveInt),
  workerLookahead: isDuration,
  workerMaxTasksPerChild: orNull(isPositiveInt),
  workerMaxMemoryPerChild: orNull(isPositiveInt),
  workerSendTaskEvents: isBool,
  workerDisableRateLimits: isBool,
  workerRevokeExpires: isDuration,
  brokerAckWait: isDuration,
  brokerMaxDeliver: orNull(isPositiveInt),
  brokerTransportOptions: isPlainObject,
  natsUser: isString,
  natsPassword: isString,
  natsToken: isString,
  natsCredentials: isString,
  natsNkeySeedFile: isString,
  natsTls: isTlsFiles,
  natsInboxPrefix: isInboxPrefix,
  workerShutdownTimeout: isDuration,
  timezone: isTimeZoneName,
  beatSchedule: isBeatSchedule,
  beatMaxInterval: isPositiveDuration,
  beatLeaseTime: isPositiveDuration,
  beatScheduleFilename: isString,
  namespace: isNamespace,
  natsReplicas: orNull(isReplicaCount),
}


/** Celery's settings celeriac has no key for: what to do instead. */
const CELERY_HABITS: Readonly<Record<string, string>> = {
  task_always_eager: 'celeriac has no eager mode: task.call(...args) runs a task here, now, through the runner a worker uses, and a memory:// app with app.worker() in the same process runs tasks sent with delay() (see "Testing helpers" in the README)',
}
for (const key of ['CELERY_ALWAYS_EAGER', 'CELERY_TASK_ALWAYS_EAGER', 'taskAlwaysEager', 'alwaysEager']) Object.assign(CELERY_HABITS, { [key]: CELERY_HABITS.task_always_eager })

/** Celery's setting names whose celeriac names no edit-distance guess finds. */
const CELERY_KEYS: Readonly<Record<string, string>> = {
  broker_url: 'broker',
  BROKER_URL: 'broker',
  brokerUrl: 'broker',
  result_backend: 'backend',
  CELERY_RESULT_BACKEND: 'backend',
  resultBackend: 'backend',
}

/** Validates a partial config, naming the first bad key (and the key it was probably meant to be). */
export function validateConfig(partial: Record<string, unknown>): Partial<ConfigValues> {
  const valid: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(partial)) {
    // Own keys only: "toString" or "__proto__" are typos too, not config keys.
    const check = Object.hasOwn(CHECKS, key) ? CHECKS[key as keyof ConfigValues] : undefined
    if (!check) {
      if (Object.hasOwn(CELERY_HABITS, key)) throw new ConfigError(`unknown config key "${key}": ${CELERY_HABITS[key]}`)
      const near = CELERY_KEYS[key] ?? closestKey(key, Object.keys(CHECKS))
      throw new ConfigError(`unknown config key "${key}"${near ? ` (did you mean "${near}"?)` : ''}`)
    }
    // undefined means "not given": the current value stays.
    if (value === undefined) continue
    check(value, key)
    valid[key] = value
  }
  return valid as Partial<ConfigValues>
}

/** A secret value as it may be printed: URLs without their password, objects without their values. */
function censor(value: unknown): string {
  // A URL keeps all but its password; any other string (a password, a token) is hidden whole.
  if (typeof value === 'string') return value === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? censorUrl(value) : '**'
  if (typeof value === 'object' && value !== null) return `{ ${Object.keys(value).map((key) => `${key}: **`).join(', ')} }`
  return '**'
}

/** Replaces the password (or token) of a URL with `**`. */
export function censorUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_, scheme: string, auth: string) => {
    const colon = auth.indexOf(':')
    return `${scheme}${colon === -1 ? '**' : `${auth.slice(0, colon)}:**`}@`
  })
}

const plain = (_key: string, value: unknown) => (value instanceof RegExp ? String(value) : value)

/**
 * An app's configuration: every key of {@link ConfigValues} readable as a property, changed
 * only through {@link Conf.update}, which validates first.
 * @example
 * app.conf.update({ taskAcksLate: true })
 * app.conf.taskAcksLate // true
 * console.log(app.conf.humanize())
 */
export class Conf {
  #values: ConfigValues
  #revision = 0

  constructor(values: Partial<ConfigValues> = {}) {
    this.#values = { ...DEFAULTS, ...validateConfig(values) }
    for (const key of Object.keys(DEFAULTS)) {
      Object.defineProperty(this, key, { enumerable: true, get: () => this.#values[key as keyof ConfigValues] })
    }
  }

  /** Validates and applies `partial`; an unknown key or bad value throws {@link ConfigError} and changes nothing. */
  update(partial: Partial<ConfigValues>): this {
    this.#values = { ...this.#values, ...validateConfig(partial) }
    this.#revision++
    return this
  }

  /** Bumped by every update: lets users of the config cache what they derive from it. */
  get revision(): number {
    return this.#revision
  }

  /** A copy of every value. */
  toJSON(): ConfigValues {
    return { ...this.#values }
  }

  /** Every value as plain data (RegExps as their source), credentials censored: what `inspect conf` shows. */
  censored(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.#values).map(([key, value]) => [key, SECRET_KEYS.has(key) ? censor(value) : JSON.parse(JSON.stringify(value, plain))]))
  }

  /**
   * A printable `key: value` listing, credentials censored.
   * @param options.withDefaults include keys still at their default (default false)
   */
  humanize(options: { withDefaults?: boolean } = {}): string {
    return Object.entries(this.#values)
      .filter(([key, value]) => options.withDefaults || value !== DEFAULTS[key as keyof ConfigValues])
      .map(([key, value]) => `${key}: ${SECRET_KEYS.has(key) ? censor(value) : JSON.stringify(value, plain)}`)
      .join('\n')
  }
}

// Every config key is readable as a property of Conf.
export interface Conf extends Readonly<ConfigValues> {}
