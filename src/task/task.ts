import type { Logger } from '../util/logger.js'
import { AsyncLocalStorage } from 'node:async_hooks'
import { CeleriacError, ErrorCode } from '../errors.js'
import type { RetryOptions } from '../errors.js'
import type { TaskContext, TaskRequest, StateUpdate } from './context.js'

/** The context of the task running in the current async scope (one thread runs many at once). */
export const currentContext = new AsyncLocalStorage<TaskContext>()

/** The running task's own record of the tasks its code sent: a key its context may have. */
export const NOTE_CHILD = Symbol('celeriac.noteChild')

/**
 * Notes `id`, a task just sent whose parent is `parentId`, among the children of `running`, the
 * task running in this scope, when that task is its parent (Celery's `request.children`): its
 * record lists them, and `children()` finds them.
 */
export function noteChild(running: TaskContext, parentId: string, id: string): void {
  if (running.request.id === parentId) (running as TaskContext & { [NOTE_CHILD]?: (id: string) => void })[NOTE_CHILD]?.(id)
}

function context(): TaskContext {
  const ctx = currentContext.getStore()
  if (!ctx) throw new CeleriacError(ErrorCode.InvalidArgument, 'no task is running in this scope: request, retry and updateState work only inside run()')
  return ctx
}

/**
 * Base class of class-based tasks: instantiated once per worker thread, so state built in the
 * constructor (a cache, a connection) is reused by every call the thread runs.
 * @example
 * export const auth = app.task('tasks.auth', class extends Task<[string, string], boolean> {
 *   users = new Map([['george', 'password']])
 *   run(user: string, password: string) { return this.users.get(user) === password }
 * })
 */
export abstract class Task<A extends unknown[] = unknown[], R = unknown> implements TaskContext {
  abstract run(...args: A): R | Promise<R>

  get name(): string {
    return context().name
  }

  /** The request of the call running now (calls may interleave on one instance; each sees its own). */
  get request(): TaskRequest {
    return context().request
  }

  get signal(): AbortSignal {
    return context().signal
  }

  /** The logger of the call running now; its lines carry the task's id and name (see {@link TaskContext.logger}). */
  get logger(): Logger {
    return context().logger
  }

  retry(options?: RetryOptions): never {
    return context().retry(options)
  }

  updateState(update: StateUpdate): void {
    context().updateState(update)
  }

  /** Called after the task succeeded. */
  onSuccess?(result: R, request: TaskRequest): void | Promise<void>
  /** Called after the task failed. */
  onFailure?(error: unknown, request: TaskRequest): void | Promise<void>
  /** Called when the task is about to be retried. */
  onRetry?(error: unknown, request: TaskRequest): void | Promise<void>
  /** Called after the task ran, whatever the outcome. */
  afterReturn?(state: string, resultOrError: unknown, request: TaskRequest): void | Promise<void>
}

/** A concrete subclass of {@link Task}. */
export type TaskClass<A extends unknown[] = any[], R = any> = new () => Task<A, R>
