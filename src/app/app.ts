import { isMainThread } from 'node:worker_threads'
import { ConfigError } from '../errors.js'
import { AsyncResult } from '../result/async-result.js'
import { GroupResult } from '../result/group-result.js'
import { subscribeEvents, type EventStream } from '../events/event-stream.js'
import type { EventOf } from '../events/events.js'
import { callerModuleUrl } from '../util/caller.js'
import { configFromEnv } from '../config/env.js'
import { WorkerNode } from '../worker/worker-node.js'
import { importTaskModule } from './import-task-module.js'
import { Beat, type BeatOptions } from '../beat/beat.js'
import { compileEntry, signatureName, type BeatEntryConfig, type PeriodicTaskOptions } from '../beat/entry.js'
import { MAP_TASK, STARMAP_TASK, TaskHandle, type TaskHandleHost } from '../client/task-handle.js'
import { APP_BRAND, isAppLike } from '../worker/thread/app-module.js'
import { beatDeps, composeApp, workerDeps, workersInProcess, type AppParts } from './compose.js'
import { callEach, IDENTITY_TASK } from '../canvas/builtins.js'
import { setCurrentCanvasHost } from '../canvas/current-host.js'
import { Signature, type SignatureParts } from '../canvas/signature.js'
import type { Conf } from '../config/conf.js'
import type { Control } from '../client/control.js'
import type { ConfigValues } from '../config/defaults.js'
import type { DeadLetter, Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'
import type { Task, TaskClass } from '../task/task.js'
import type { TaskContext } from '../task/context.js'
import type { ResolvedTaskOptions, TaskDefinition } from '../task/definition.js'
import type { TaskOptions } from '../task/options.js'
import type { WorkerOptions } from '../worker/worker-options.js'
import type { Clock } from '../util/clock.js'
import type { Logger } from '../util/logger.js'
import { checkCallOptions, type CallOptions } from '../canvas/call-options.js'
import type { Serializable, SerializableCall } from '../serialization/serializable.js'
import type { ScheduleSpec } from '../beat/schedules.js'
import { dashboardHandler, type DashboardHandler } from '../dashboard/handler.js'
import type { DashboardOptions } from '../dashboard/options.js'

/** Options of {@link createApp}. Every field is optional. */
export interface AppOptions {
  /** The app's name; worker threads find the app by it. @default 'celeriac' */
  name?: string | undefined
  /** Broker URL, shorthand for `config.broker`. */
  broker?: string | undefined
  /** Result backend URL, shorthand for `config.backend`. */
  backend?: string | undefined
  /** Task modules, shorthand for `config.include`, resolved against `main`. */
  include?: string[] | undefined
  /** Any configuration key; see `ConfigValues` for each key's meaning and default. */
  config?: Partial<ConfigValues> | undefined
  /** URL of the module that creates the app, imported by worker threads. @default the calling module */
  main?: string | undefined
  /** A transport instance, instead of one built from the broker URL. */
  transport?: Transport | undefined
  /** A result backend instance, instead of one built from the backend URL. */
  resultBackend?: ResultBackend | undefined
  clock?: Clock | undefined
  logger?: Logger | undefined
}

/**
 * A celeriac application: the user's facade over the parts {@link composeApp} builds (task
 * registry, configuration, connections, publisher, control client). It holds no logic a part
 * owns. Creating one has no side effect: it connects on first use.
 */
export class App {
  /** True for an App from any copy of celeriac (a CLI from dist/ loading an app built on src/). */
  static isApp(value: unknown): value is App {
    return isAppLike(value)
  }

  readonly [APP_BRAND] = true
  readonly name: string
  /** URL of the app's module. */
  readonly main: string | undefined
  readonly control: Control
  readonly events: { subscribe<P extends string = '*'>(pattern?: P): EventStream<EventOf<P>> }
  readonly #parts: AppParts
  readonly #taskHost: TaskHandleHost

  constructor(options: AppOptions = {}) {
    this.name = options.name ?? 'celeriac'
    const shorthand: Partial<ConfigValues> = {}
    if (options.broker !== undefined) shorthand.broker = options.broker
    if (options.backend !== undefined) shorthand.backend = options.backend
    if (options.include !== undefined) shorthand.include = options.include
    this.main = options.main ?? callerModuleUrl()
    this.#parts = composeApp(
      { name: this.name, config: { ...options.config, ...shorthand }, transport: options.transport, resultBackend: options.resultBackend, clock: options.clock, logger: options.logger },
      (id) => this.asyncResult(id),
    )
    this.control = this.#parts.control
    this.events = { subscribe: <P extends string = '*'>(pattern?: P) => subscribeEvents(this.#parts.connections.transport(), pattern ?? ('*' as P), this.logger) }
    const parts = this.#parts
    this.#taskHost = {
      send: <R>(name: string, args: readonly unknown[], callOptions: CallOptions) => this.sendTask<R>(name, args, callOptions),
      canvas: parts.flow,
    }
    setCurrentCanvasHost(parts.flow)
    this.task(IDENTITY_TASK, (value: unknown) => value)
    this.task(MAP_TASK, (task: string, items: unknown[]) => callEach(parts.flow.runLocal, task, items.map((item) => [item])))
    this.task(STARMAP_TASK, (task: string, argLists: unknown[][]) => callEach(parts.flow.runLocal, task, argLists))
  }

  /** The configuration; see `ConfigValues` for each key's meaning and default. */
  get conf(): Conf {
    return this.#parts.conf
  }

  /** The registered tasks by name. */
  get tasks(): ReadonlyMap<string, TaskDefinition> {
    return this.#parts.tasks.tasks
  }

  get clock(): Clock {
    return this.#parts.clock
  }

  /** Where the app logs: the `logger` option, or one set later with {@link App.useLogger}. */
  get logger(): Logger {
    return this.#parts.logger
  }

  /**
   * Registers a task: a function, or a class extending {@link Task} (one instance per worker
   * thread). With `{ bind: true }` a function receives a {@link TaskContext} first. Its
   * arguments and result must be {@link Serializable} (a compile error otherwise): what the
   * types say is what the task receives.
   * @example
   * export const add = app.task('tasks.add', (x: number, y: number) => x + y)
   * export const flaky = app.task('tasks.flaky', (ctx: TaskContext) => ctx.retry({ countdown: 1 }), { bind: true })
   */
  task<A extends unknown[], R>(name: string, fn: ((ctx: TaskContext, ...args: A) => R) & SerializableCall<A, R>, options: TaskOptions<Awaited<R>> & { bind: true }): TaskHandle<A, Awaited<R>>
  task<A extends unknown[], R>(name: string, cls: (new () => Task<A, R>) & SerializableCall<A, R>, options?: TaskOptions<Awaited<R>>): TaskHandle<A, Awaited<R>>
  task<A extends unknown[], R>(name: string, fn: ((...args: A) => R) & SerializableCall<A, R>, options?: TaskOptions<Awaited<R>> & { bind?: false }): TaskHandle<A, Awaited<R>>
  task(name: string, impl: ((...args: any[]) => unknown) | TaskClass, options: TaskOptions<any> = {}): TaskHandle<any, any> {
    return new TaskHandle(this.#taskHost, this.#parts.tasks.define(name, impl, options))
  }


  /**
   * A signature by task name, sent with this app (Celery's `app.signature`).
   * @example app.signature('tasks.add', { args: [2, 2] })
   */
  signature<R = unknown, const A extends readonly unknown[] = unknown[], K extends Record<string, unknown> = Record<string, unknown>>(task: string, parts: SignatureParts<A, K> = {}): Signature<R> {
    return new Signature<R>(task, parts.args ?? [], parts.kwargs ?? {}, parts.options ?? {}, parts.immutable ?? false, this.#parts.flow)
  }

  /** A task's options with the app's defaults (and the current configuration) applied. */
  resolvedOptions(definition: TaskDefinition): ResolvedTaskOptions {
    return this.#parts.tasks.resolved(definition)
  }

  /**
   * Applies configuration from an object (Celery's `config_from_object`): validated, so an
   * unknown key or a bad value throws a ConfigError naming the key.
   */
  configFromObject(config: Partial<ConfigValues>): this {
    this.conf.update(config)
    return this
  }

  /**
   * Applies the `CELERIAC_*` environment variables over the configuration (the CLI does this
   * after loading the app module, before its own options): `CELERIAC_BROKER_URL`,
   * `CELERIAC_RESULT_BACKEND`, and every key in upper snake case (`CELERIAC_TASK_ACKS_LATE`).
   */
  configFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): this {
    this.conf.update(configFromEnv(env))
    return this
  }

  /** Logs through `logger` from now on (the CLI sets its structured logger this way). */
  useLogger(logger: Logger): void {
    this.#parts.logger.use(logger)
  }

  /** Sends a task by name, without importing it. Its args must be {@link Serializable} (checked when their types are inferred). */
  sendTask<R = unknown, const A extends readonly unknown[] = readonly unknown[]>(name: string, args: A & Serializable<A> = [] as never, options: CallOptions = {}): Promise<AsyncResult<R>> {
    try {
      checkCallOptions(options, typeof name === 'string' ? name : 'sendTask')
    } catch (error) {
      return Promise.reject(error)
    }
    const definition = this.#parts.tasks.get(name)
    const ignored = options.ignoreResult ?? (definition ? this.#parts.tasks.resolved(definition).ignoreResult : this.conf.taskIgnoreResult)
    return this.#parts.sendTask(name, args, options).then((ignored ? this.#ignoredResult : this.#result) as (id: string) => AsyncResult<R>)
  }

  // Made once, not per send: a caller may hold a hundred thousand sends, each holding its own
  // closure and contexts until its turn.
  readonly #result = (id: string): AsyncResult => new AsyncResult(id, this.#parts.results)
  readonly #ignoredResult = (id: string): AsyncResult => new AsyncResult(id, this.#parts.results, { ignored: true })

  /** Dead-lettered messages (undecodable, unknown task, rejected, too many deliveries), oldest first, with their reason. */
  async deadLetters(queue?: string): Promise<DeadLetter[]> {
    return (await this.transport()).deadLetters(queue)
  }

  /** Puts the dead letters of `queue` back into it (after the cause is fixed); returns how many. */
  async replayDeadLetters(queue: string): Promise<number> {
    return (await this.transport()).replayDeadLetters(queue)
  }

  /** A result handle for any task id (PENDING if unknown). */
  asyncResult<R = unknown>(id: string): AsyncResult<R> {
    return new AsyncResult<R>(id, this.#parts.results)
  }

  /**
   * The group a process saved under `id` with `GroupResult.save()`, its handles bound to this
   * app; `undefined` when nothing is saved there (Celery's `GroupResult.restore`).
   */
  restoreGroup<R = unknown[]>(id: string): Promise<GroupResult<R> | undefined> {
    return GroupResult.restore(id, this.#parts.results) as Promise<GroupResult<R> | undefined>
  }

  /** The connected transport (connects on first call). */
  transport(): Promise<Transport> {
    return this.#parts.connections.transport()
  }

  /** The connected result backend (connects on first call). */
  backend(): Promise<ResultBackend> {
    return this.#parts.connections.backend()
  }

  /** Connects the transport and the backend now. */
  async connect(): Promise<void> {
    await Promise.all([this.transport(), this.backend()])
  }

  /** Closes the connections; the app can connect again later. */
  close(): Promise<void> {
    return this.#parts.connections.close()
  }

  /** Module URLs that define the app's tasks, imported by worker threads: the app module, then `include`. */
  #modules(): string[] {
    if (!this.main) throw new ConfigError(`app ${this.name}: cannot tell which module created it; pass createApp({ main: import.meta.url })`)
    return [this.main, ...this.conf.include.map((path) => new URL(path, this.main).href)]
  }

  /** A worker node serving this app's tasks. */
  worker(options: WorkerOptions = {}): WorkerNode {
    if (!isMainThread) {
      throw new ConfigError(`app.worker() was called inside a worker thread: ${this.main} starts a worker when it is imported, and every worker thread imports it to find the tasks. Start the worker from another module that imports the app, or only on the main thread (if (isMainThread) from node:worker_threads)`)
    }
    const node = new WorkerNode(workerDeps(this.#parts, () => this.#modules()), options)
    workersInProcess.count++
    return node
  }

  /**
   * Adds a periodic task to `config.beatSchedule` (Celery's `add_periodic_task`). The entry is
   * checked now: a bad schedule throws a ConfigError naming it.
   * @example
   * app.addPeriodicTask(10, add.s(2, 2), { name: 'add every 10' })
   * app.addPeriodicTask(crontab({ hour: 7, minute: 30, dayOfWeek: 1 }), report.s('weekly'))
   */
  addPeriodicTask(schedule: ScheduleSpec, signature: Signature, options: PeriodicTaskOptions = {}): string {
    const name = options.name ?? signatureName(signature.task, signature.args, signature.kwargs)
    const { expires: signatureExpires, ...callOptions } = signature.options as BeatEntryConfig['options'] & object
    const expires = options.expires ?? signatureExpires
    const entry: BeatEntryConfig = { task: signature.task, schedule, args: [...signature.args], kwargs: { ...signature.kwargs }, options: { ...callOptions, ...(expires === undefined ? {} : { expires }) } }
    compileEntry(name, entry, { timezone: this.conf.timezone, now: this.clock.now(), tasks: this.tasks })
    this.conf.update({ beatSchedule: { ...this.conf.beatSchedule, [name]: entry } })
    return name
  }

  /**
   * A live web dashboard and HTTP API of the cluster (Flower for celeriac), as a request
   * handler: `http.createServer(handler)`, Express `server.use('/flower', handler)` (with
   * `prefix: '/flower'`), or `hono.mount('/flower', handler.fetch)`. It listens to events from
   * now on; `handler.close()` stops it. `celeriac dashboard` serves one on its own.
   */
  dashboard(options: DashboardOptions = {}): DashboardHandler {
    const parts = this.#parts
    return dashboardHandler({
      appName: this.name,
      events: (pattern) => this.events.subscribe(pattern),
      control: this.control,
      transport: () => this.transport(),
      backend: () => this.backend(),
      nats: () => parts.connections.natsConnection(this.conf.broker),
      sendTask: (name, args, options) => parts.sendTask(name, args, options),
      conf: () => this.conf,
      taskNames: () => [...this.tasks.keys()],
      loadTasks: async () => {
        for (const url of this.main === undefined ? [] : this.#modules().slice(1)) await importTaskModule(url)
      },
      clock: parts.clock,
      logger: parts.logger,
    }, options)
  }

  /** A beat sending this app's periodic tasks (`config.beatSchedule`); see {@link Beat}. */
  beat(options: BeatOptions = {}): Beat {
    return new Beat(beatDeps(this.#parts), options)
  }
}

/**
 * Creates an app.
 * @example
 * export const app = createApp({ name: 'proj', broker: 'memory://', include: ['./tasks.js'] })
 */
export function createApp(options: AppOptions = {}): App {
  return new App(options)
}
