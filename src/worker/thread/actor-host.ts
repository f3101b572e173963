import { getHeapStatistics } from 'node:v8'
import {
  InvalidArgumentError, Ignore, MaxRetriesExceeded, TaskRejectedError, NotRegistered, Reject, Retry, SoftTimeLimitExceeded, type RetryOptions,
} from '../../errors.js'
import { TaskState } from '../../lifecycle/states.js'
import { assertSerializable, codecByName, codecFor, ownBytes, type Codec } from '../../serialization/codec.js'
import { fromWireError, toWireError } from '../../serialization/failure.js'
import { backoffDelay } from '../../task/backoff.js'
import { matchesError, resolveTaskOptions, type ResolvedTaskOptions, type TaskDefinition } from '../../task/definition.js'
import { currentContext, type Task } from '../../task/task.js'
import { toMs } from '../../util/duration.js'
import type { AppRegistration } from '../../app/registry.js'
import type { TaskContext, TaskRequest } from '../../task/context.js'
import type { MainToThread, Outcome, RunRequest, ThreadToMain } from '../../protocol/thread-messages.js'
import type { TaskBody } from '../../protocol/envelope.js'

interface Actor {
  definition: TaskDefinition
  options: ResolvedTaskOptions
  /** The one instance of a class task in this thread, built on first use. */
  instance?: Task
}

const BUILT_IN_STATES: ReadonlySet<string> = new Set(Object.values(TaskState))

/**
 * Runs tasks inside a worker thread: one actor per registered task, one instance per task
 * class, many calls in flight (async tasks interleave). Replies are batched: every outcome of
 * one turn of the event loop goes back in a single message.
 */
export class ActorHost {
  readonly #app: AppRegistration
  readonly #hostname: string
  readonly #post: (message: ThreadToMain) => void
  readonly #startedAt: Float64Array
  readonly #actors = new Map<string, Actor>()
  readonly #controllers = new Map<number, AbortController>()
  readonly #resultCodec: Codec
  #outcomes: Outcome[] = []
  #flushQueued = false

  constructor(app: AppRegistration, hostname: string, startedAt: Float64Array, post: (message: ThreadToMain) => void) {
    this.#app = app
    this.#hostname = hostname
    this.#startedAt = startedAt
    this.#post = post
    this.#resultCodec = codecByName(app.conf.resultSerializer)
  }

  handle(message: MainToThread): void {
    if (message.type === 'run') {
      for (const request of message.batch) this.#start(request)
    } else {
      this.#controllers.get(message.slot)?.abort(fromWireError(message.reason))
    }
  }

  #actor(name: string): Actor {
    let actor = this.#actors.get(name)
    if (!actor) {
      const definition = this.#app.tasks.get(name)
      if (!definition) throw new NotRegistered(`task ${name} is not registered in worker thread (its module was not imported: check the app's include list)`)
      actor = { definition, options: resolveTaskOptions(name, definition.options, this.#app.conf) }
      this.#actors.set(name, actor)
    }
    if (actor.definition.cls && !actor.instance) actor.instance = new actor.definition.cls()
    return actor
  }

  #start(run: RunRequest): void {
    this.#startedAt[run.slot] = Date.now()
    // Posted before the task runs: a synchronous task may hold the thread for a long time.
    if (run.reportStart) this.#post({ type: 'started', slots: [run.slot] })
    const began = performance.now()
    let actor: Actor | undefined
    let request: TaskRequest | undefined
    try {
      actor = this.#actor(run.task)
      const [args, kwargs] = codecFor(run.contentType).decode(run.body) as TaskBody
      request = toRequest(run, this.#hostname, args, kwargs ?? {})
      const callArgs = kwargs && Object.keys(kwargs).length > 0 ? [...args, kwargs] : args
      const ctx = this.#context(run, request, actor)
      const value = currentContext.run(ctx, () => invoke(actor!, ctx, callArgs))
      if (value instanceof Promise) {
        const a = actor
        const r = request
        value.then(
          (result) => this.#succeed(run, a, r, result, began),
          (error) => this.#fail(run, a, r, error, began),
        )
      } else {
        this.#succeed(run, actor, request, value, began)
      }
    } catch (error) {
      this.#fail(run, actor, request, error, began)
    }
  }

  #context(run: RunRequest, request: TaskRequest, actor: Actor): TaskContext {
    const controller = new AbortController()
    const softMs = run.softTimeLimitMs
    if (softMs !== undefined) {
      const timer = setTimeout(() => controller.abort(new SoftTimeLimitExceeded(`soft time limit (${softMs / 1000}s) exceeded by ${run.task}[${run.id}]`)), softMs)
      controller.signal.addEventListener('abort', () => clearTimeout(timer), { once: true })
      this.#controllers.set(run.slot, controller)
    }
    return {
      name: run.task,
      request,
      signal: controller.signal,
      retry: (options?: RetryOptions) => {
        throw retrySignal(options ?? {}, request, actor.options)
      },
      updateState: ({ state, meta }) => {
        if (typeof state !== 'string' || state === '' || BUILT_IN_STATES.has(state)) {
          throw new InvalidArgumentError(`updateState: state must be a custom state name such as 'PROGRESS', got ${JSON.stringify(state)}`)
        }
        const update: ThreadToMain = { type: 'update', slot: run.slot, state }
        if (meta !== undefined) {
          assertSerializable(meta, 'updateState meta')
          update.meta = ownBytes(this.#resultCodec.encode(meta))
          update.contentType = this.#resultCodec.contentType
        }
        this.#post(update)
      },
    }
  }

  #succeed(run: RunRequest, actor: Actor, request: TaskRequest, result: unknown, began: number): void {
    let outcome: Outcome
    try {
      outcome = { slot: run.slot, kind: 'success', runtimeMs: performance.now() - began }
      if (!run.ignoreResult && result !== undefined) {
        assertSerializable(result, `result of ${run.task}`)
        outcome.result = ownBytes(this.#resultCodec.encode(result))
        outcome.contentType = this.#resultCodec.contentType
      }
    } catch (error) {
      this.#fail(run, actor, request, error, began)
      return
    }
    this.#finish(outcome, actor, request, () => hooksOf(actor).onSuccess?.(result, request), TaskState.SUCCESS, result)
  }

  #fail(run: RunRequest, actor: Actor | undefined, request: TaskRequest | undefined, error: unknown, began: number): void {
    const runtimeMs = performance.now() - began
    const { slot } = run
    if (actor && request) {
      // A Retry thrown directly, or an error listed in autoretryFor, still counts against maxRetries.
      if (error instanceof Retry) error = retrySignal(error.options, request, actor.options)
      else if (matchesError(error, actor.options.autoretryFor)) error = retrySignal({ exc: error }, request, actor.options, true)
    }
    if (error instanceof Retry && actor && request) {
      const delayMs = retryDelay(error.options, request, actor.options)
      const cause = error.options.exc
      const outcome: Outcome = { slot, kind: 'retry', delayMs, runtimeMs }
      if (cause !== undefined) outcome.error = toWireError(cause)
      this.#finish(outcome, actor, request, () => hooksOf(actor).onRetry?.(cause ?? error, request), TaskState.RETRY, cause ?? error)
    } else if (error instanceof Reject) {
      this.#finish({ slot, kind: 'reject', requeue: error.requeue, error: toWireError(new TaskRejectedError(error.message)), runtimeMs }, actor, request, undefined, TaskState.REJECTED, error)
    } else if (error instanceof Ignore) {
      this.#finish({ slot, kind: 'ignore', runtimeMs }, actor, request, undefined, TaskState.IGNORED, error)
    } else {
      this.#finish({ slot, kind: 'failure', error: toWireError(error), runtimeMs }, actor, request, actor && request ? () => hooksOf(actor).onFailure?.(error, request) : undefined, TaskState.FAILURE, error)
    }
  }

  #finish(outcome: Outcome, actor: Actor | undefined, request: TaskRequest | undefined, hook: (() => unknown) | undefined, state: TaskState, value: unknown): void {
    const controller = this.#controllers.get(outcome.slot)
    if (controller) {
      this.#controllers.delete(outcome.slot)
      controller.abort()
    }
    const after = actor && request ? hooksOf(actor).afterReturn : undefined
    if (!hook && !after) return this.#queue(outcome)
    // Handlers run before the outcome is reported; their errors are logged, never change it.
    Promise.resolve()
      .then(hook)
      .then(() => after?.(state, value, request!))
      .catch((error) => console.error(`celeriac: handler of ${request?.task}[${request?.id}] failed:`, error))
      .finally(() => this.#queue(outcome))
  }

  #queue(outcome: Outcome): void {
    this.#startedAt[outcome.slot] = 0
    this.#outcomes.push(outcome)
    if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(this.#flush)
    }
  }

  #flush = (): void => {
    this.#flushQueued = false
    const outcomes = this.#outcomes
    this.#outcomes = []
    this.#post({ type: 'done', outcomes, heapUsed: getHeapStatistics().used_heap_size })
  }
}

type Hooks = Pick<Task, 'onSuccess' | 'onFailure' | 'onRetry' | 'afterReturn'>

function hooksOf(actor: Actor): Hooks {
  return (actor.instance ?? actor.definition.options) as Hooks
}

function invoke(actor: Actor, ctx: TaskContext, args: unknown[]): unknown {
  if (actor.instance) return actor.instance.run(...args)
  const fn = actor.definition.fn!
  return actor.options.bind ? fn(ctx, ...args) : fn(...args)
}

function toRequest(run: RunRequest, hostname: string, args: unknown[], kwargs: Record<string, unknown>): TaskRequest {
  const request: TaskRequest = {
    id: run.id,
    task: run.task,
    args,
    kwargs,
    retries: run.retries,
    hostname,
    rootId: run.rootId,
    deliveryInfo: run.deliveryInfo,
    headers: run.headers ?? {},
    isEager: false,
  }
  if (run.parentId !== undefined) request.parentId = run.parentId
  if (run.groupId !== undefined) request.groupId = run.groupId
  if (run.eta !== undefined) request.eta = new Date(run.eta)
  if (run.expires !== undefined) request.expires = new Date(run.expires)
  return request
}

/** The error `ctx.retry()` throws: Retry, or MaxRetriesExceeded once retries are used up. */
export function retrySignal(options: RetryOptions, request: TaskRequest, resolved: ResolvedTaskOptions, auto = false): Error {
  const maxRetries = options.maxRetries === undefined ? resolved.maxRetries : options.maxRetries
  if (maxRetries !== null && request.retries >= maxRetries) {
    const cause = options.exc
    const reason = cause instanceof Error ? `: ${cause.name}: ${cause.message}` : ''
    return new MaxRetriesExceeded(`${request.task}[${request.id}] gave up after ${request.retries} retries (maxRetries ${maxRetries})${reason}`, cause === undefined ? {} : { cause })
  }
  return new Retry(auto ? { ...options, countdown: undefined } : options)
}

function retryDelay(options: RetryOptions, request: TaskRequest, resolved: ResolvedTaskOptions): number {
  if (options.eta) return Math.max(0, options.eta.getTime() - Date.now())
  if (options.countdown !== undefined) return toMs(options.countdown, 'retry countdown')
  if (resolved.retryBackoffMs > 0) return backoffDelay(resolved.retryBackoffMs, request.retries, resolved.retryBackoffMaxMs, resolved.retryJitter)
  return resolved.defaultRetryDelayMs
}
