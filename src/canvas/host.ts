/**
 * The ports the canvas layer needs from an app, narrowest first. The app supplies one object
 * that serves them all; a worker passes the same one to the flow.
 * @module
 */
import type { AsyncResult } from '../result/async-result.js'
import type { ResultBackend } from '../result/backend.js'
import type { Clock } from '../util/clock.js'
import type { Logger } from '../util/logger.js'
import type { CallOptions } from './call-options.js'
import type { ChordRef, SignatureData } from './data.js'

/** Workflow headers of one task message: what follows it travels with it. */
export interface Flow {
  /** Steps to run after this task succeeds, next first. */
  chain?: SignatureData[]
  /** The chord this task completes a member of. */
  chord?: ChordRef
  /**
   * Where the workflow's sender listens for states: every step keeps the first's. `null`: none
   * (a workflow a worker continues for a sender that did not listen); absent: this process's.
   */
  replyTo?: string | null
}

/** Where a plan's sends go. */
export interface FlowHost {
  /** Publishes one task whose id is already chosen (`options.taskId`). */
  sendTask(name: string, args: readonly unknown[], options: CallOptions, flow: Flow): Promise<unknown>
  backend(): Promise<ResultBackend>
}

/** Runs a registered task in this process, now, without a message (the app's eager runner). */
export type RunLocal = (name: string, args: readonly unknown[], kwargs?: Record<string, unknown>) => Promise<unknown>

/** What a canvas needs from an app to be sent (`applyAsync`) or called here (`call`). */
export interface CanvasHost extends FlowHost {
  asyncResult(id: string): AsyncResult
  runLocal: RunLocal
}

/** What a worker gives the flow that follows a finished task. */
export interface WorkflowHost extends FlowHost {
  logger: Logger
  /** Dates the records of tasks that will never run. */
  clock: Clock
}
