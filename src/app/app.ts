import { isMainThread } from 'node:worker_threads'
import { ConfigError, InvalidArgumentError, NotRegistered } from '../errors.js'
import { Conf } from '../config/conf.js'
import { Router } from '../routing/router.js'
import { AsyncResult } from '../result/async-result.js'
import { subscribeEvents, type EventStream } from '../events/event-stream.js'
import { arityOf, resolveTaskOptions, type ResolvedTaskOptions, type TaskDefinition } from '../task/definition.js'
import { Task, type TaskClass } from '../task/task.js'
import { systemClock, type Clock } from '../util/clock.js'
import { callerModuleUrl } from '../util/caller.js'
import { consoleLogger, type Logger } from '../util/logger.js'
import { configFromEnv } from '../config/env.js'
import { toMs } from '../util/duration.js'
import { WorkerNode } from '../worker/worker-node.js'
import { Beat, type BeatOptions } from '../beat/beat.js'
import { compileEntry, signatureName, type BeatEntryConfig, type PeriodicTaskOptions } from '../beat/entry.js'
import { backendFromUrl, transportFromUrl } from './connections.js'
import { Control } from './control.js'
import { Publisher } from './publisher.js'
import { registerApp, setCurrentCanvasHost } from './registry.js'
import { MAP_TASK, STARMAP_TASK, TaskHandle } from './task-handle.js'
import { applyCanvas, IDENTITY_TASK } from '../canvas/apply.js'
import { Signature, type CanvasHost } from '../canvas/signature.js'
import { runEager } from '../task/eager.js'
import type { SignatureData } from '../canvas/data.js'
import type { WorkflowHost } from '../canvas/flow.js'
import type { GroupResult } from '../result/group-result.js'
import type { ConfigValues } from '../config/defaults.js'
import type { DeadLetter, Transport } from '../transport/transport.js'
import type { NatsConnection } from '@nats-io/transport-node'
import type { ResultBackend } from '../result/backend.js'
import type { TaskContext } from '../task/context.js'
import type { TaskOptions } from '../task/options.js'
import type { WorkerOptions } from '../worker/worker-options.js'
import type { WorkerDeps } from '../worker/worker-deps.js'
import type { CallOptions } from './call-options.js'
import type { ScheduleSpec } from '../beat/schedules.js'

/** Options of {@link createApp}. Every field is optional. */
export interface AppOptions {
  /** The app's name; worker threads find the app by it. @default 'celeriac' */
  name?: string
  /** Broker URL, shorthand for `config.broker`. */
  broker?: string
  /** Result backend URL, shorthand for `config.backend`. */
  backend?: string
  /** Task modules, shorthand for `config.include`, resolved against `main`. */
  include?: string[]
  /** Any configuration key; see `ConfigValues` for each key's meaning and default. */
  config?: Partial<ConfigValues>
  /** URL of the module that creates the app, imported by worker threads. @default the calling module */
  main?: string
  /** A transport instance, instead of one built from the broker URL. */
  transport?: Transport
  /** A result backend instance, instead of one built from the backend URL. */
  resultBackend?: ResultBackend
  clock?: Clock
  logger?: Logger
}

/**
 * A celeriac application: the task registry, configuration, and the connections shared by
 * clients and worker nodes. Creating one has no side effect: it connects on first use.
 */
const APP_BRAND = Symbol.for('celeriac.app')

export class App implements CanvasHost {
  /** True for an App from any copy of celeriac (a CLI from dist/ loading an app built on src/). */
  static isApp(value: unknown): value is App {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[APP_BRAND] === true
  }

  readonly [APP_BRAND] = true
  readonly name: string
  readonly conf: Conf
  /** URL of the app's module. */
  readonly main: string | undefined
  readonly tasks = new Map<string, TaskDefinition>()
  readonly clock: Clock
  /** Where the app logs: the `logger` option, or one set later with {@link App.useLogger}. */
  readonly logger: Logger = {
    debug: (message, fields) => this.#logger.debug(message, fields),
    info: (message, fields) => this.#logger.info(message, fields),
    warn: (message, fields) => this.#logger.warn(message, fields),
    error: (message, fields) => this.#logger.error(message, fields),
  }
  #logger: Logger
  readonly control: Control
  readonly events: { subscribe(pattern?: string): EventStream }
  readonly #publisher: Publisher
  readonly #resolved = new Map<TaskDefinition, { options: ResolvedTaskOptions; revision: number }>()
  #transport?: Promise<Transport>
  #backend?: Promise<ResultBackend>
  /** The same connections once made, so hot paths need not await a settled promise. */
  #connected: { transport?: Transport; backend?: ResultBackend } = {}
  #router?: { router: Router; revision: number }
  readonly #injected: { transport?: Transport; backend?: ResultBackend }

  constructor(options: AppOptions = {}) {
    this.name = options.name ?? 'celeriac'
    const shorthand: Partial<ConfigValues> = {}
    if (options.broker !== undefined) shorthand.broker = options.broker
    if (options.backend !== undefined) shorthand.backend = options.backend
    if (options.include !== undefined) shorthand.include = options.include
    this.conf = new Conf({ ...options.config, ...shorthand })
    this.main = options.main ?? callerModuleUrl()
    this.clock = options.clock ?? systemClock
    this.#logger = options.logger ?? consoleLogger()
    this.#injected = { transport: options.transport, backend: options.resultBackend }
    this.control = new Control(() => this.transport(), () => this.conf)
    this.events = { subscribe: (pattern = '*') => subscribeEvents(this.transport(), pattern, this.logger) }
    this.#publisher = new Publisher({ conf: () => this.conf, router: () => this.router(), transport: () => this.transport(), connectedTransport: () => this.#connected.transport, clock: this.clock, logger: this.logger, replyTo: () => this.#connected.backend?.replyTo, expect: (id) => this.#connected.backend?.expect?.(id) })
    registerApp(this)
    setCurrentCanvasHost(this)
    this.task(IDENTITY_TASK, (value: unknown) => value)
    this.task(MAP_TASK, (task: string, items: unknown[]) => this.#callEach(task, items.map((item) => [item])))
    this.task(STARMAP_TASK, (task: string, argLists: unknown[][]) => this.#callEach(task, argLists))
  }

  /**
   * Registers a task: a function, or a class extending {@link Task} (one instance per worker
   * thread). With `{ bind: true }` a function receives a {@link TaskContext} first.
   * @example
   * export const add = app.task('tasks.add', (x: number, y: number) => x + y)
   * export const flaky = app.task('tasks.flaky', (ctx: TaskContext) => ctx.retry({ countdown: 1 }), { bind: true })
   */
  task<A extends unknown[], R>(name: string, fn: (ctx: TaskContext, ...args: A) => R, options: TaskOptions<Awaited<R>> & { bind: true }): TaskHandle<A, Awaited<R>>
  task<A extends unknown[], R>(name: string, cls: new () => Task<A, R>, options?: TaskOptions<Awaited<R>>): TaskHandle<A, Awaited<R>>
  task<A extends unknown[], R>(name: string, fn: (...args: A) => R, options?: TaskOptions<Awaited<R>>): TaskHandle<A, Awaited<R>>
  task(name: string, impl: ((...args: any[]) => unknown) | TaskClass, options: TaskOptions<any> = {}): TaskHandle<any, any> {
    if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('app.task: name must be a non-empty string')
    if (typeof impl !== 'function') throw new InvalidArgumentError(`app.task(${name}): expected a function or a class extending Task`)
    if (this.tasks.has(name)) throw new InvalidArgumentError(`app.task: a task named ${name} is already registered`)
    const isClass = impl.prototype instanceof Task
    const definition: TaskDefinition = isClass
      ? { name, cls: impl as TaskClass, options, arity: arityOf((impl as TaskClass).prototype.run) }
      : { name, fn: impl as (...args: any[]) => unknown, options, arity: arityOf(impl as (...args: any[]) => unknown, options.bind ? 1 : 0) }
    this.#resolved.set(definition, { options: resolveTaskOptions(name, options, this.conf), revision: this.conf.revision })
    this.tasks.set(name, definition)
    return new TaskHandle(this.#taskHost, definition)
  }

  readonly #taskHost = {
    send: <R>(name: string, args: readonly unknown[], options: CallOptions, definition: TaskDefinition) =>
      this.#send<R>(name, args, options, definition),
    resolved: (definition: TaskDefinition) => this.resolvedOptions(definition),
    canvas: this,
  }

  /** How canvases and worker nodes send workflow steps (internal). */
  readonly flow: WorkflowHost = ((app: App): WorkflowHost => ({
    sendTask: (name, args, options, flow) => {
      if (app.#awaitsReplyTo()) return app.backend().then(() => app.flow.sendTask(name, args, options, flow))
      const definition = app.tasks.get(name)
      return app.#publisher.send(name, args, options, definition, definition && app.resolvedOptions(definition), flow)
    },
    backend: () => app.backend(),
    asyncResult: (id) => app.asyncResult(id),
    get logger() {
      return app.logger
    },
  }))(this)

  /**
   * A signature by task name, sent with this app (Celery's `app.signature`).
   * @example app.signature('tasks.add', { args: [2, 2] })
   */
  signature<R = unknown>(task: string, parts: { args?: unknown[]; kwargs?: Record<string, unknown>; options?: CallOptions; immutable?: boolean } = {}): Signature<R> {
    return new Signature<R>(task, parts.args ?? [], parts.kwargs ?? {}, parts.options ?? {}, parts.immutable ?? false, this)
  }

  /** Sends a canvas (see `Canvas.applyAsync`). */
  applyCanvas(data: SignatureData, args: readonly unknown[], options: CallOptions): Promise<AsyncResult | GroupResult> {
    return applyCanvas(this.flow, data, args, options)
  }

  /** Runs a canvas in this process, without messages (see `Canvas.call`). */
  async callCanvas(data: SignatureData, args: readonly unknown[]): Promise<unknown> {
    switch (data.subtaskType) {
      case 'chain': {
        let value = await this.callCanvas(data.tasks[0], args)
        for (const step of data.tasks.slice(1)) value = await this.callCanvas(step, [value])
        return value
      }
      case 'group':
        return Promise.all(data.tasks.map((task) => this.callCanvas(task, args)))
      case 'chord':
        return this.callCanvas(data.body, [await Promise.all(data.header.map((task) => this.callCanvas(task, args)))])
      default: {
        const definition = this.#registered(data.task)
        return runEager(definition, this.resolvedOptions(definition), data.immutable ? data.args : [...args, ...data.args], data.kwargs)
      }
    }
  }

  #registered(name: string): TaskDefinition {
    const definition = this.tasks.get(name)
    if (!definition) throw new NotRegistered(`task ${name} is not registered in app ${this.name}`)
    return definition
  }

  /** Calls a task here on each argument list, one after another: the built-in map and starmap. */
  async #callEach(task: string, argLists: unknown[][]): Promise<unknown[]> {
    const definition = this.#registered(task)
    const resolved = this.resolvedOptions(definition)
    const results: unknown[] = []
    for (const args of argLists) results.push(await runEager(definition, resolved, args))
    return results
  }

  /**
   * True before an rpc:// backend is connected: a task sent then would carry no `replyTo`, and
   * its result would go to a subject nobody listens on yet. Starts connecting any other backend.
   */
  #awaitsReplyTo(): boolean {
    if (this.#connected.backend !== undefined) return false
    if (this.#injected.backend?.kind === 'rpc' || (this.#injected.backend === undefined && /^rpc:\/\//i.test(this.conf.backend))) return true
    // Other backends connect alongside the first send, not before it: tasks sent once it is
    // connected carry its reply subject (nats:// pushes their ready records there), the first
    // few go without, and a backend that cannot connect fails only a get() that needs it.
    if (this.#backend === undefined) this.backend().catch(() => {})
    return false
  }

  /** A task's options with the app's defaults applied. */
  resolvedOptions(definition: TaskDefinition): ResolvedTaskOptions {
    // Computed again after a config change (env or command line applied after the module loaded).
    let resolved = this.#resolved.get(definition)
    if (!resolved || resolved.revision !== this.conf.revision) {
      resolved = { options: resolveTaskOptions(definition.name, definition.options, this.conf), revision: this.conf.revision }
      this.#resolved.set(definition, resolved)
    }
    return resolved.options
  }

  #send<R>(name: string, args: readonly unknown[], options: CallOptions, definition?: TaskDefinition): Promise<AsyncResult<R>> {
    if (this.#awaitsReplyTo()) return this.backend().then(() => this.#send<R>(name, args, options, definition))
    return this.#publisher.send(name, args, options, definition, definition && this.resolvedOptions(definition)).then((id) => new AsyncResult<R>(id, this.#resultSource))
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
    this.#logger = logger
  }

  /** Sends a task by name, without importing it. */
  sendTask<R = unknown>(name: string, args: readonly unknown[] = [], options: CallOptions = {}): Promise<AsyncResult<R>> {
    return this.#send<R>(name, args, options, this.tasks.get(name))
  }

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
    return new AsyncResult<R>(id, this.#resultSource)
  }

  readonly #resultSource = {
    backend: () => this.backend(),
    connectedBackend: () => this.#connected.backend,
    revoke: async (id: string, options: { terminate?: boolean }) => {
      await this.control.revoke(id, options)
    },
  }

  /** The publisher, for the worker's retries and callbacks. */
  get publisher(): Publisher {
    return this.#publisher
  }

  /** The router for the current configuration. */
  router(): Router {
    const cached = this.#router
    if (cached && cached.revision === this.conf.revision) return cached.router
    const router = new Router(this.conf.toJSON())
    this.#router = { router, revision: this.conf.revision }
    return router
  }

  /** The connected transport (connects on first call). */
  transport(): Promise<Transport> {
    this.#transport ??= (async () => {
      const transport = this.#injected.transport ?? (await transportFromUrl(this.conf.broker, { clock: this.clock, ackWaitMs: toMs(this.conf.brokerAckWait, 'config.brokerAckWait'), nats: this.#nats }))
      await transport.connect()
      this.#connected.transport = transport
      return transport
    })()
    return this.#transport
  }

  /** The transport if connected, without waiting. */
  connectedTransport(): Transport | undefined {
    return this.#connected.transport
  }

  /** The result backend if connected, without waiting. */
  connectedBackend(): ResultBackend | undefined {
    return this.#connected.backend
  }

  /** The connected result backend (connects on first call). */
  backend(): Promise<ResultBackend> {
    this.#backend ??= (async () => {
      const backend = this.#injected.backend ?? (await backendFromUrl(this.conf.backend, { clock: this.clock, resultExpiresMs: toMs(this.conf.resultExpires, 'config.resultExpires'), broker: this.conf.broker, nats: this.#nats }))
      await backend.connect()
      this.#connected.backend = backend
      return backend
    })()
    return this.#backend
  }

  /** Connects the transport and the backend now. */
  async connect(): Promise<void> {
    await Promise.all([this.transport(), this.backend()])
  }

  /** Closes the connections; the app can connect again later. */
  async close(): Promise<void> {
    const [transport, backend, nats] = [this.#transport, this.#backend, [...this.#natsConnections.values()]]
    this.#transport = undefined
    this.#backend = undefined
    this.#connected = {}
    this.#natsConnections.clear()
    await Promise.all([transport?.then((t) => t.close()), backend?.then((b) => b.close())])
    // Transports and backends share these, so they close last.
    await Promise.all(nats.map((connection) => connection.then((c) => c.close(), () => {})))
  }

  readonly #natsConnections = new Map<string, Promise<NatsConnection>>()

  /** One NATS connection per server URL, shared by this app's transport and backend. */
  #nats = (url: string): Promise<NatsConnection> => {
    let connection = this.#natsConnections.get(url)
    if (!connection) {
      const extra = this.conf.brokerTransportOptions
      connection = import('../transport/nats/connect.js').then(({ connectNats }) => connectNats(url, extra))
      this.#natsConnections.set(url, connection)
      connection.catch(() => this.#natsConnections.delete(url))
    }
    return connection
  }

  /** Module URLs that define the app's tasks: the app module, then `include`. */
  modules(): string[] {
    if (!this.main) throw new ConfigError(`app ${this.name}: cannot tell which module created it; pass createApp({ main: import.meta.url })`)
    return [this.main, ...this.conf.include.map((path) => new URL(path, this.main).href)]
  }

  /** Imports the task modules in this thread (a worker node does, before it starts). */
  async loadTasks(): Promise<void> {
    for (const url of this.modules()) await import(url)
  }

  /** A worker node serving this app's tasks. */
  worker(options: WorkerOptions = {}): WorkerNode {
    if (!isMainThread) {
      throw new ConfigError(`app.worker() was called inside a worker thread: keep starting workers out of the modules that define tasks (${this.main})`)
    }
    return new WorkerNode(this.#workerDeps(), options)
  }

  /** What a worker node may reach of this app: the port it is built on, never the app itself. */
  #workerDeps(): WorkerDeps {
    return {
      appName: this.name,
      tasks: this.tasks,
      conf: this.conf,
      resolvedOptions: (definition) => this.resolvedOptions(definition),
      clock: this.clock,
      logger: this.logger,
      transport: () => this.transport(),
      backend: () => this.backend(),
      publisher: this.#publisher,
      flow: this.flow,
      modules: () => this.modules(),
      loadTasks: () => this.loadTasks(),
    }
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

  /** A beat sending this app's periodic tasks (`config.beatSchedule`); see {@link Beat}. */
  beat(options: BeatOptions = {}): Beat {
    return new Beat(this, options)
  }

  /** The app's shared connection to the NATS server at `url`, for parts built on NATS directly (beat's lease). */
  natsConnection(url: string): Promise<NatsConnection> {
    return this.#nats(url)
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
