/**
 * The composition root: the one place that builds an app's parts from its options and
 * configuration, and hands each consumer the narrow port it needs (a worker node its
 * `WorkerDeps`, beat its `BeatDeps`, a result handle its `ResultSource`), never the whole app.
 * See docs/architecture.md for the picture.
 * @module
 */
import { isMainThread } from 'node:worker_threads'
import { Conf, censorUrl } from '../config/conf.js'
import { Router } from '../routing/router.js'
import { Publisher } from '../client/publisher.js'
import { Control } from '../client/control.js'
import { systemClock, type Clock } from '../util/clock.js'
import { consoleLogger, isLevelEnabled, type Logger } from '../util/logger.js'
import { Connections } from './connections.js'
import { importTaskModule } from './import-task-module.js'
import { TaskRegistry } from './task-registry.js'
import { runEager } from '../task/eager.js'
import { serveThreadRelay } from '../worker/thread/relay-server.js'
import type { ConfigValues } from '../config/defaults.js'
import type { Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'
import type { ResultSource } from '../result/async-result.js'
import type { CanvasHost, Flow, WorkflowHost } from '../canvas/host.js'
import type { CallOptions } from '../canvas/call-options.js'
import type { AsyncResult } from '../result/async-result.js'
import type { WorkerDeps } from '../worker/worker-deps.js'
import type { BeatDeps } from '../beat/beat.js'

/** Worker nodes made in this process by any app (`app.worker()`): a memory:// broker or backend serves them. */
export const workersInProcess = { count: 0 }

/** What the parts are built from: {@link AppOptions} without what only the facade uses. */
export interface PartsOptions {
  name: string
  config: Partial<ConfigValues>
  transport?: Transport
  resultBackend?: ResultBackend
  clock?: Clock
  logger?: Logger
}

/** Sends one task by name: the one way a task message leaves this process. Resolves to its id. */
export type SendTask = (name: string, args: readonly unknown[], options: CallOptions, flow?: Flow) => Promise<string>

/** A logger whose destination can be replaced later (the CLI installs its own after loading the app). */
export interface SwitchableLogger extends Logger {
  use(logger: Logger): void
}

/** An app's parts, built once by {@link composeApp}. */
export interface AppParts {
  readonly name: string
  readonly conf: Conf
  readonly clock: Clock
  readonly logger: SwitchableLogger
  readonly tasks: TaskRegistry
  readonly connections: Connections
  readonly publisher: Publisher
  readonly control: Control
  readonly sendTask: SendTask
  /** What result handles need: the backend, and revocation through remote control. */
  readonly results: ResultSource
  /** How canvases are sent and called, and how worker nodes send workflow steps. */
  readonly flow: WorkflowHost & CanvasHost
}

function switchableLogger(initial: Logger): SwitchableLogger {
  let target = initial
  return {
    debug: (message, fields) => target.debug(message, fields),
    info: (message, fields) => target.info(message, fields),
    warn: (message, fields) => target.warn(message, fields),
    error: (message, fields) => target.error(message, fields),
    isLevelEnabled: (level) => isLevelEnabled(target, level),
    use: (logger) => void (target = logger),
  }
}

/**
 * Builds an app's parts. Nothing connects here: the transport and the backend connect on
 * first use.
 * @param asyncResult how a result handle is made for an id (the facade's, so canvases return the same class users get)
 */
export function composeApp(options: PartsOptions, asyncResult: (id: string) => AsyncResult): AppParts {
  const conf = new Conf(options.config)
  const clock = options.clock ?? systemClock
  const logger = switchableLogger(options.logger ?? consoleLogger())
  const tasks = new TaskRegistry(conf, options.name)
  const connections = new Connections({ conf, clock, logger, transport: options.transport, backend: options.resultBackend })

  let routing: { router: Router; revision: number } | undefined
  const router = (): Router => {
    if (routing?.revision !== conf.revision) routing = { router: new Router(conf.toJSON()), revision: conf.revision }
    return routing.router
  }

  const publisher = new Publisher({
    conf: () => conf,
    router,
    transport: () => connections.transport(),
    connectedTransport: () => connections.connectedTransport,
    clock,
    logger,
    replyTo: () => connections.connectedBackend?.push?.replyTo,
    expect: (id) => connections.connectedBackend?.push?.expect(id),
    forgo: (id) => connections.connectedBackend?.push?.forgo?.(id),
  })
  const control = new Control(() => connections.transport(), () => conf)

  const sendTask: SendTask = (name, args, callOptions, flow) => {
    const ready = connections.readyToSend()
    if (ready) return ready.then(() => sendTask(name, args, callOptions, flow))
    const definition = tasks.get(name)
    return publisher.send(name, args, callOptions, definition, definition && tasks.resolved(definition), flow)
  }

  // Whether this app has said why its results may never come.
  let warned = false
  const results: ResultSource = {
    clock: () => clock,
    backend: () => connections.backend(),
    connectedBackend: () => connections.connectedBackend,
    revoke: async (id, how) => void (await control.revoke(id, how)),
    strandedHint: () => {
      // Celery raises "no result backend configured" at get(); here memory:// is the default,
      // which serves a worker in this process, and a worker anywhere else never writes to it.
      // Inside a worker thread, memory:// is the main thread's store, where the node records.
      if (workersInProcess.count > 0 || !isMainThread || !/^memory:/i.test(conf.backend)) return undefined
      const env = process.env.CELERIAC_BROKER_URL === undefined ? '' : ` CELERIAC_BROKER_URL is set, but createApp() does not read the environment: call app.configFromEnv() (the celeriac command does).`
      const hint = /^memory:/i.test(conf.broker)
        ? `this app's broker is ${conf.broker}, in this process, and no worker runs here: nothing runs its tasks until app.worker() starts one in this process. A worker in another process needs a shared broker and backend, e.g. createApp({ broker: 'nats://...', backend: 'nats://' }).${env}`
        : `this app keeps results in this process (backend ${conf.backend}) while its tasks go to ${censorUrl(conf.broker)}, and no worker runs here: a worker in another process cannot store results where this app reads them. Give the app its workers' backend, e.g. createApp({ backend: 'nats://' })`
      if (!warned) logger.warn(hint)
      warned = true
      return hint
    },
  }

  const flow: WorkflowHost & CanvasHost = {
    sendTask: (name, args, callOptions, workflow) => sendTask(name, args, callOptions, workflow),
    backend: () => connections.backend(),
    asyncResult,
    // The one in-process runner: task.call(), a canvas's call(), the built-in map and starmap.
    runLocal: async (name, args, kwargs) => {
      const definition = tasks.require(name)
      return runEager(definition, tasks.resolved(definition), args, kwargs, { clock, logger })
    },
    clock,
    logger,
  }

  return { name: options.name, conf, clock, logger, tasks, connections, publisher, control, sendTask, results, flow }
}

/**
 * A worker node's port. `modules` lists the module URLs that define the app's tasks (the app's
 * module first): the node imports them before it starts, and each of its threads imports them
 * and finds the app among the first one's exports.
 */
export function workerDeps(parts: AppParts, modules: () => string[]): WorkerDeps {
  // Its threads' apps reach a memory:// broker and store on this thread through the relay.
  serveThreadRelay(parts.clock)
  return {
    appName: parts.name,
    tasks: parts.tasks.tasks,
    conf: parts.conf,
    resolvedOptions: (definition) => parts.tasks.resolved(definition),
    clock: parts.clock,
    logger: parts.logger,
    transport: () => parts.connections.transport(),
    backend: () => parts.connections.backend(),
    publisher: parts.publisher,
    flow: parts.flow,
    modules,
    loadTasks: async () => {
      for (const url of modules()) await importTaskModule(url)
    },
  }
}

/** A beat's port: the schedule's configuration, time, and the app's one send path. */
export function beatDeps(parts: AppParts): BeatDeps {
  return {
    name: parts.name,
    conf: parts.conf,
    clock: parts.clock,
    logger: parts.logger,
    tasks: parts.tasks.tasks,
    sendTask: (name, args, options) => parts.sendTask(name, args, options),
    natsConnection: (url) => parts.connections.natsConnection(url),
  }
}
