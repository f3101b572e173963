import { hostname as osHostname } from 'node:os'
import { InvalidArgumentError } from '../errors.js'
import { toMs, type Duration } from '../util/duration.js'
import { checkKnownKeys } from '../util/closest.js'
import type { ConfigValues } from '../config/defaults.js'

/** Options of `app.worker()`. Every field is optional; defaults come from the app's config. */
export interface WorkerOptions {
  /**
   * Worker threads: tasks that can use a CPU core at the same time (Celery's meaning).
   * @default config.workerConcurrency
   */
  concurrency?: number | undefined
  /**
   * Async tasks one thread runs at once: while one awaits I/O, the thread runs another. The node
   * holds `concurrency x tasksPerThread` tasks in flight and pulls no more than that. `1` with
   * `concurrency: 1` serialises work: one task at a time, the next starts after it ends.
   * @default config.workerTasksPerThread
   */
  tasksPerThread?: number | undefined
  /**
   * @deprecated The old name of {@link tasksPerThread} (it never was Celery's prefetch
   * multiplier: nothing is held beyond what the threads run). Accepted with the same meaning;
   * an error when given with a different `tasksPerThread`.
   */
  prefetch?: number | undefined
  /**
   * How far ahead the node reserves tasks beyond its free slots, as time: as many as it expects
   * to start within this, from how fast it finished tasks lately. A reserved task is acked only
   * when it starts. `0`: reserve none, pull only for free slots.
   * @default config.workerLookahead ('10ms')
   */
  lookahead?: Duration | undefined
  /** Queues to consume. @default [config.taskDefaultQueue] */
  queues?: string[] | undefined
  /** Node name; `%h` is replaced by the host name, `%n` by the name part. @default 'celeriac@%h' */
  hostname?: string | undefined
  /** Recycle a thread after this many tasks. @default config.workerMaxTasksPerChild */
  maxTasksPerChild?: number | null | undefined
  /** Recycle a thread once its heap exceeds this many KiB. @default config.workerMaxMemoryPerChild */
  maxMemoryPerChild?: number | null | undefined
  /** Heap limit of each thread, MiB: a thread over it dies (WorkerLostError) and is replaced. */
  maxOldGenerationSizeMb?: number | undefined
  /** Send task and worker events. @default config.workerSendTaskEvents */
  sendEvents?: boolean | undefined
  /** Seconds between worker-heartbeat events. @default 2 */
  heartbeatInterval?: Duration | undefined
  /** How long a warm stop waits for running tasks before requeueing them. @default config.workerShutdownTimeout */
  shutdownTimeout?: Duration | undefined
  /** Serve Prometheus metrics; `true` for the defaults of {@link MetricsOptions}. @default false */
  metrics?: boolean | MetricsOptions | undefined
  /** Serve liveness and readiness probes; `true` for the defaults of {@link HealthOptions}. @default false */
  health?: boolean | HealthOptions | undefined
  /**
   * Trace tasks with OpenTelemetry when `@opentelemetry/api` is installed (a CONSUMER span per
   * attempt; spans go nowhere until the app registers an SDK). `false` turns it off. @default true
   */
  tracing?: boolean | undefined
}

/** Every worker option: anything else is a typo, refused when the node is made. */
export const WORKER_OPTION_KEYS = [
  'concurrency', 'tasksPerThread', 'prefetch', 'lookahead', 'queues', 'hostname', 'maxTasksPerChild', 'maxMemoryPerChild',
  'maxOldGenerationSizeMb', 'sendEvents', 'heartbeatInterval', 'shutdownTimeout', 'metrics', 'health', 'tracing',
] as const satisfies readonly (keyof WorkerOptions)[]

// The list above names every key of WorkerOptions: a key added there and not here fails to compile.
const everyWorkerOption: Exclude<keyof WorkerOptions, (typeof WORKER_OPTION_KEYS)[number]> extends never ? true : never = true
void everyWorkerOption

/** Where a node serves its Prometheus metrics (`GET /metrics`). */
export interface MetricsOptions {
  /** TCP port; 0 picks a free one (see `node.endpoints`). @default 9808 */
  port?: number | undefined
  /** Interface to listen on. @default '0.0.0.0' */
  host?: string | undefined
  /** Add a `hostname` label (the node's name) to every metric. @default true */
  hostnameLabel?: boolean | undefined
  /** Queues to report depth and age of besides those the node consumes (queues nobody consumes yet). @default [] */
  queues?: string[] | undefined
}

/** Where a node serves its probes (`GET /livez`, `GET /readyz`). */
export interface HealthOptions {
  /** TCP port; 0 picks a free one (see `node.endpoints`). @default 9809 */
  port?: number | undefined
  /** Interface to listen on. @default '0.0.0.0' */
  host?: string | undefined
}

/** Worker options with defaults applied and durations in ms. */
export interface ResolvedWorkerOptions {
  concurrency: number
  /** Async tasks one thread runs at once. */
  tasksPerThread: number
  /** @deprecated The same as {@link tasksPerThread}, for code that read it. */
  prefetch: number
  /** How far ahead the node reserves tasks, ms; 0 for none. */
  lookaheadMs: number
  queues: string[]
  hostname: string
  maxTasksPerChild: number | null
  maxMemoryPerChild: number | null
  maxOldGenerationSizeMb: number | undefined
  sendEvents: boolean
  heartbeatMs: number
  shutdownTimeoutMs: number
  ackWaitMs: number
  metrics: Required<MetricsOptions> | undefined
  health: Required<HealthOptions> | undefined
  tracing: boolean
}

function positiveInt(value: unknown, field: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) throw new InvalidArgumentError(`options.${field} must be a positive integer, got ${String(value)}`)
  return value as number
}

/**
 * Tasks per thread: the option, else its deprecated alias `prefetch`, else the config's
 * deprecated `workerPrefetchMultiplier` when set, else `workerTasksPerThread`.
 */
function resolveTasksPerThread(options: WorkerOptions, conf: Readonly<ConfigValues>): number {
  if (options.tasksPerThread !== undefined && options.prefetch !== undefined && options.tasksPerThread !== options.prefetch) {
    throw new InvalidArgumentError(`options.prefetch is the deprecated name of options.tasksPerThread: give one, not both (got tasksPerThread ${String(options.tasksPerThread)} and prefetch ${String(options.prefetch)})`)
  }
  if (options.tasksPerThread !== undefined) return positiveInt(options.tasksPerThread, 'tasksPerThread')
  if (options.prefetch !== undefined) return positiveInt(options.prefetch, 'prefetch')
  return conf.workerPrefetchMultiplier ?? conf.workerTasksPerThread
}

/** Expands `%h` (host name), `%n` (name part) and `%%` in a node name. */
export function expandHostname(pattern: string): string {
  const host = osHostname()
  return pattern.replace(/%[hn%]/g, (token) => (token === '%h' ? host : token === '%n' ? host.split('.')[0] : '%'))
}

/** Validates worker options against the app's config; errors name the option. */
export function compileWorkerOptions(options: WorkerOptions, conf: Readonly<ConfigValues>): ResolvedWorkerOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`worker options must be an object, got ${JSON.stringify(options)}`)
  checkKnownKeys(options, WORKER_OPTION_KEYS, (key, near) => new InvalidArgumentError(`unknown worker option ${key}${near ? ` (did you mean ${near}?)` : ''}`))
  const queues = options.queues ?? [conf.taskDefaultQueue]
  if (!Array.isArray(queues) || queues.length === 0 || queues.some((q) => typeof q !== 'string' || q === '')) {
    throw new InvalidArgumentError('options.queues must be a non-empty array of queue names')
  }
  const maxTasks = options.maxTasksPerChild === undefined ? conf.workerMaxTasksPerChild : options.maxTasksPerChild
  const maxMemory = options.maxMemoryPerChild === undefined ? conf.workerMaxMemoryPerChild : options.maxMemoryPerChild
  const tasksPerThread = resolveTasksPerThread(options, conf)
  return {
    concurrency: positiveInt(options.concurrency ?? conf.workerConcurrency, 'concurrency'),
    tasksPerThread,
    prefetch: tasksPerThread,
    lookaheadMs: toMs(options.lookahead ?? conf.workerLookahead, options.lookahead === undefined ? 'config.workerLookahead' : 'options.lookahead'),
    queues: [...new Set(queues)],
    hostname: expandHostname(options.hostname ?? 'celeriac@%h'),
    maxTasksPerChild: maxTasks === null ? null : positiveInt(maxTasks, 'maxTasksPerChild'),
    maxMemoryPerChild: maxMemory === null ? null : positiveInt(maxMemory, 'maxMemoryPerChild'),
    maxOldGenerationSizeMb: options.maxOldGenerationSizeMb === undefined ? undefined : positiveInt(options.maxOldGenerationSizeMb, 'maxOldGenerationSizeMb'),
    sendEvents: options.sendEvents ?? conf.workerSendTaskEvents,
    heartbeatMs: toMs(options.heartbeatInterval ?? 2, 'options.heartbeatInterval'),
    shutdownTimeoutMs: toMs(options.shutdownTimeout ?? conf.workerShutdownTimeout, 'options.shutdownTimeout'),
    ackWaitMs: toMs(conf.brokerAckWait, 'config.brokerAckWait'),
    metrics: endpoint(options.metrics, 'metrics', 9808, (o) => ({ hostnameLabel: (o as MetricsOptions).hostnameLabel ?? true, queues: [...((o as MetricsOptions).queues ?? [])] })) as Required<MetricsOptions> | undefined,
    health: endpoint(options.health, 'health', 9809, () => ({})),
    tracing: options.tracing ?? true,
  }
}

/** An endpoint option with its defaults, or undefined when off; errors name the option. */
function endpoint(value: boolean | { port?: number; host?: string } | undefined, field: string, defaultPort: number, extra: (o: object) => object): { port: number; host: string } | undefined {
  if (value === undefined || value === false) return undefined
  const o = value === true ? {} : value
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(`options.${field} must be true or an object, got ${String(value)}`)
  const port = o.port ?? defaultPort
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`options.${field}.port must be an integer from 0 to 65535, got ${String(port)}`)
  return { port, host: o.host ?? '0.0.0.0', ...extra(o) }
}
