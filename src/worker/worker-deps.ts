/**
 * The narrow port a worker node is built on: what it reads and reaches of its app, and nothing
 * else. The composition root (`App.worker()` today) fills it in; tests may fill it in by hand.
 * @module
 */
import type { Conf } from '../config/conf.js'
import type { WorkflowHost } from '../canvas/flow.js'
import type { TaskHeaders } from '../protocol/envelope.js'
import type { ResultBackend } from '../result/backend.js'
import type { Route } from '../routing/router.js'
import type { ResolvedTaskOptions, TaskDefinition } from '../task/definition.js'
import type { Transport } from '../transport/transport.js'
import type { Clock } from '../util/clock.js'
import type { Logger } from '../util/logger.js'

/** The app's configuration as a node sees it: every key readable, nothing writable. */
export type ConfigView = Omit<Conf, 'update'>

/** Sends an already encoded task: how a node re-sends a retry or requeues an early-acked task. */
export interface TaskPublisher {
  /** Resolves to the task id once the broker has it. `msgId` is the broker's dedupe id: each re-send needs its own. */
  publish(headers: TaskHeaders, body: Uint8Array, route: Route, msgId: string): Promise<string>
}

/** What a {@link WorkerNode} needs of the app it serves. */
export interface WorkerDeps {
  /** The app's name: worker threads find the app by it once they imported {@link modules}. */
  readonly appName: string
  /** Registered tasks, by name. */
  readonly tasks: ReadonlyMap<string, TaskDefinition>
  readonly conf: ConfigView
  /** A task's options with the app's defaults applied (recomputed after a config change). */
  resolvedOptions(definition: TaskDefinition): ResolvedTaskOptions
  /** Every timer and deadline of the node goes through this clock. */
  readonly clock: Clock
  readonly logger: Logger
  /** The connected transport (connects on first call). */
  transport(): Promise<Transport>
  /** The connected result backend (connects on first call). */
  backend(): Promise<ResultBackend>
  readonly publisher: TaskPublisher
  /** How the node sends what follows a task in its workflow (chains, chords, callbacks). */
  readonly flow: WorkflowHost
  /** Module URLs each worker thread imports to find the app's tasks. */
  modules(): string[]
  /** Imports the task modules on this thread, before the node starts. */
  loadTasks(): Promise<void>
}

/** The part of {@link WorkerDeps} remote control reads. */
export type ControlDeps = Pick<WorkerDeps, 'tasks' | 'conf' | 'clock' | 'logger'>
