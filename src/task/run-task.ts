/**
 * The one task runner: runs a call of a task and decides how it ended. The worker thread's
 * actor host and eager calls (`task.call()`, canvases called here) both run tasks through it,
 * so retries, `maxRetries`, `autoretryFor`, the handlers, `updateState`, the soft time limit
 * and the arity check behave the same in both. Each caller maps the outcome to its own form.
 * @module
 */
import { Ignore, InvalidArgumentError, MaxRetriesExceeded, Reject, Retry, SoftTimeLimitExceeded, type RetryOptions } from '../errors.js'
import { TaskState } from '../lifecycle/states.js'
import { assertSerializable } from '../serialization/codec.js'
import { bindArguments } from './arity.js'
import { matchesError, type ResolvedTaskOptions, type TaskDefinition } from './definition.js'
import { retryDelay, retrySignal } from './retry-policy.js'
import { currentContext, NOTE_CHILD, type Task } from './task.js'
import type { Clock, TimerHandle } from '../util/clock.js'
import { consoleLogger, withFields, type Logger } from '../util/logger.js'
import type { StateUpdate, TaskContext, TaskRequest } from './context.js'

/** A task ready to run in this thread: its definition, its resolved options and its instance. */
export interface RunnableTask {
  readonly definition: TaskDefinition
  readonly options: ResolvedTaskOptions
  /** The one instance of a class task in this thread; undefined for a function task. */
  readonly instance: Task | undefined
}

// One instance per class task in a thread, shared by the actor host and eager calls there.
const instances = new WeakMap<TaskDefinition, Task>()

/**
 * A {@link RunnableTask} for a definition. A class task is instantiated on first use, once per
 * thread; a constructor that throws throws here, and the next call tries again.
 */
export function runnableTask(definition: TaskDefinition, options: ResolvedTaskOptions): RunnableTask {
  const { cls } = definition
  if (!cls) return { definition, options, instance: undefined }
  let instance = instances.get(definition)
  if (!instance) instances.set(definition, (instance = new cls()))
  return { definition, options, instance }
}

/** How a run ended. `runtimeMs` is the time from the call to its end, handlers excluded. */
export type RunOutcome = (
  /** `result` is what the port's `accept` returned, or the task's return value without one. */
  | { readonly kind: 'success'; readonly result: unknown; readonly runtimeMs: number }
  /** Run again after `delayMs`; `exc` is the error that caused the retry, if one was given. */
  | { readonly kind: 'retry'; readonly delayMs: number; readonly exc: unknown; readonly runtimeMs: number }
  /** The task threw {@link Reject}. */
  | { readonly kind: 'reject'; readonly requeue: boolean; readonly reason: string; readonly runtimeMs: number }
  /** The task threw {@link Ignore}. */
  | { readonly kind: 'ignore'; readonly reason: string; readonly runtimeMs: number }
  | { readonly kind: 'failure'; readonly error: unknown; readonly runtimeMs: number }
) & {
  /** Ids of the tasks its code sent (each with this task as parent), when it sent any. */
  readonly children?: readonly string[]
}

/**
 * What the runner needs from its caller. `T` is the caller's own data about a run (a slot, a
 * resolver), handed back with each call so that the task's context never shows it.
 */
export interface RunPort<T> {
  /** Drives the soft time limit and a retry's eta. */
  readonly clock: Clock
  /**
   * Receives the outcome, once, after the handlers ran. Synchronously, within the call, when a
   * synchronous task without handlers ends.
   */
  settle(tag: T, outcome: RunOutcome, request: TaskRequest): void
  /** Delivers a custom state the task reported; already validated (a custom name, serializable meta). */
  update(tag: T, state: string, meta: unknown, request: TaskRequest): void
  /** Takes a success value and returns what the outcome carries (e.g. its encoded bytes); a throw fails the run instead. */
  accept?(tag: T, value: unknown, request: TaskRequest): unknown
  /** A handler threw: reported here, and the outcome stays as it was. */
  handlerFailed(request: TaskRequest, error: unknown): void
  /** Where `ctx.logger` writes. @default warnings and errors to stderr */
  readonly logger?: Logger
  /** Fields added to each `ctx.logger` line besides the task's id and name (its trace, say). */
  logFields?(): Record<string, unknown> | undefined
}

let fallbackLogger: Logger | undefined

/**
 * Runs one call of a task: binds its kwargs and checks its arguments (task/arity.ts
 * `bindArguments`; refused only when `typing` is on), arms the soft time limit, calls the
 * task, and settles the outcome through `port`.
 */
export function runTask<T>(port: RunPort<T>, task: RunnableTask, request: TaskRequest, tag: T, args: readonly unknown[], kwargs: Record<string, unknown> | null | undefined, softTimeLimitMs?: number): void {
  RunningTask.start(port, task, request, tag, args, kwargs, softTimeLimitMs)
}

const BUILT_IN_STATES: ReadonlySet<string> = new Set(Object.values(TaskState))

type HookName = 'onSuccess' | 'onFailure' | 'onRetry'
type Hooks = Pick<Task, HookName | 'afterReturn'>

/** One run, and the context the task sees (`ctx` of a bound function, `this` of a class task). */
class RunningTask<T> implements TaskContext {
  readonly request: TaskRequest
  readonly #port: RunPort<T>
  readonly #task: RunnableTask
  readonly #tag: T
  readonly #began = performance.now()
  /** Created on first use: most tasks never look at their signal. */
  #controller: AbortController | undefined
  #softTimer: TimerHandle | undefined
  #logger: Logger | undefined
  /** Tasks its code sent, made on the first: most send none. */
  #children: string[] | undefined

  private constructor(port: RunPort<T>, task: RunnableTask, request: TaskRequest, tag: T) {
    this.request = request
    this.#port = port
    this.#task = task
    this.#tag = tag
  }

  static start<T>(port: RunPort<T>, task: RunnableTask, request: TaskRequest, tag: T, args: readonly unknown[], kwargs: Record<string, unknown> | null | undefined, softTimeLimitMs: number | undefined): void {
    const run = new RunningTask(port, task, request, tag)
    const bound = bindArguments(task.definition, args, kwargs, task.options.typing)
    // The call, not the task, is wrong: no retry, whatever autoretryFor says.
    if (bound instanceof InvalidArgumentError) return run.#failed(bound)
    let value: unknown
    try {
      if (softTimeLimitMs !== undefined) run.#armSoftLimit(softTimeLimitMs)
      value = currentContext.run(run, invoke, task, run, bound)
    } catch (error) {
      return run.#fail(error)
    }
    if (value instanceof Promise) {
      value.then(
        (result) => run.#succeed(result),
        (error) => run.#fail(error),
      )
    } else {
      run.#succeed(value)
    }
  }

  get name(): string {
    return this.request.task
  }

  get logger(): Logger {
    // Made on first use: most tasks never log.
    const { request } = this
    const port = this.#port
    this.#logger ??= withFields(port.logger ?? (fallbackLogger ??= consoleLogger()), () => ({ id: request.id, task: request.task, ...port.logFields?.() }))
    return this.#logger
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController()
    return this.#controller.signal
  }

  [NOTE_CHILD](id: string): void {
    ;(this.#children ??= []).push(id)
  }

  retry(options: RetryOptions = {}): never {
    throw retrySignal(options, this.request, this.#task.options)
  }

  updateState({ state, meta }: StateUpdate): void {
    if (typeof state !== 'string' || state === '' || BUILT_IN_STATES.has(state)) {
      throw new InvalidArgumentError(`updateState: state must be a custom state name such as 'PROGRESS', got ${JSON.stringify(state)}`)
    }
    if (meta !== undefined) assertSerializable(meta, 'updateState meta')
    this.#port.update(this.#tag, state, meta, this.request)
  }

  #armSoftLimit(ms: number): void {
    this.#softTimer = this.#port.clock.setTimeout(() => {
      if (this.#controller === undefined) unheardSoftLimit(this.logger, this.request.task, ms)
      this.#controller ??= new AbortController()
      this.#controller.abort(new SoftTimeLimitExceeded(`soft time limit (${ms / 1000}s) exceeded by ${this.request.task}[${this.request.id}]`))
    }, ms)
  }

  #succeed(value: unknown): void {
    let result = value
    if (this.#port.accept) {
      try {
        result = this.#port.accept(this.#tag, value, this.request)
      } catch (error) {
        return this.#fail(error)
      }
    }
    this.#finish({ kind: 'success', result, runtimeMs: this.#runtime() }, TaskState.SUCCESS, value, 'onSuccess')
  }

  /** Sorts what the task threw into a retry, a reject, an ignore or a failure. */
  #fail(thrown: unknown): void {
    const { request } = this
    const { options } = this.#task
    let error = thrown
    // A Retry thrown directly, or an error listed in autoretryFor, still counts against maxRetries.
    if (error instanceof Retry) error = retrySignal(error.options, request, options)
    else if (!(error instanceof MaxRetriesExceeded) && matchesError(error, options.autoretryFor)) error = retrySignal({ exc: error }, request, options, true)
    if (error instanceof Retry) {
      let delayMs: number
      try {
        delayMs = retryDelay(error.options, request, options, this.#port.clock.now())
      } catch (invalid) {
        return this.#failed(invalid)
      }
      const { exc } = error.options
      return this.#finish({ kind: 'retry', delayMs, exc, runtimeMs: this.#runtime() }, TaskState.RETRY, exc ?? error, 'onRetry')
    }
    if (error instanceof Reject) return this.#finish({ kind: 'reject', requeue: error.requeue, reason: error.message, runtimeMs: this.#runtime() }, TaskState.REJECTED, error)
    if (error instanceof Ignore) return this.#finish({ kind: 'ignore', reason: error.message, runtimeMs: this.#runtime() }, TaskState.IGNORED, error)
    this.#failed(error)
  }

  #failed(error: unknown): void {
    this.#finish({ kind: 'failure', error, runtimeMs: this.#runtime() }, TaskState.FAILURE, error, 'onFailure')
  }

  #runtime(): number {
    return performance.now() - this.#began
  }

  #finish(ended: RunOutcome, state: TaskState, value: unknown, hook?: HookName): void {
    // Read as the outcome is reported: a handler may send tasks too, which are children as well.
    const outcome = (): RunOutcome => (this.#children === undefined ? ended : { ...ended, children: this.#children })
    if (this.#softTimer !== undefined) this.#port.clock.clearTimeout(this.#softTimer)
    // Whatever still listens (a fetch, a timer) learns that the run is over.
    this.#controller?.abort()
    const hooks = (this.#task.instance ?? this.#task.definition.options) as Hooks
    const onOutcome = hook === undefined ? undefined : hooks[hook]
    if (onOutcome === undefined && hooks.afterReturn === undefined) return this.#port.settle(this.#tag, outcome(), this.request)
    // Handlers run before the outcome is reported; their errors are reported, never change it.
    // They run in the run's context: a class task's handler may read `this.request`.
    const { request } = this
    Promise.resolve()
      .then(() => hook !== undefined && currentContext.run(this, () => hooks[hook]?.(value as never, request)))
      .then(() => currentContext.run(this, () => hooks.afterReturn?.(state, value, request)))
      .catch((error: unknown) => this.#port.handlerFailed(request, error))
      .finally(() => this.#port.settle(this.#tag, outcome(), request))
  }
}

/** Task names already warned about in this thread: once each, not once per run. */
const unheard = new Set<string>()

/**
 * Celery raises SoftTimeLimitExceeded inside the task at its soft limit, failing it unless it
 * catches it. JavaScript cannot throw into running code: the limit aborts the task's `signal`,
 * and a task that never looked at its signal cannot hear it. Failing such a task at the limit
 * while its code runs on would let a retry run beside it, so it is left to run; this says once
 * per task, in each thread, that its soft limit did nothing.
 */
function unheardSoftLimit(logger: Logger, task: string, ms: number): void {
  if (unheard.has(task)) return
  unheard.add(task)
  logger.warn(`task ${task} ran past its soft time limit (${ms / 1000} s) without looking at its signal, so the limit could not reach it: read ctx.signal (bind: true; this.signal in a class task) to stop at the limit, or give it a hard timeLimit`)
}

function invoke(task: RunnableTask, ctx: TaskContext, args: readonly unknown[]): unknown {
  if (task.instance) return task.instance.run(...args)
  const fn = task.definition.fn!
  return task.options.bind ? fn(ctx, ...args) : fn(...args)
}
