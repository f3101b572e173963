import { getHeapStatistics } from 'node:v8'
import {
  InvalidArgumentError, Ignore, MaxRetriesExceeded, NotRegistered, Reject, Retry, SoftTimeLimitExceeded, TaskRejectedError,
  type RetryOptions,
} from '../../errors.js'
import { TaskState } from '../../lifecycle/states.js'
import { assertSerializable, codecByName, codecFor, ownBytes, type Codec } from '../../serialization/codec.js'
import { toWireError } from '../../serialization/failure.js'
import { backoffDelay } from '../../task/backoff.js'
import { matchesError, resolveTaskOptions, type ResolvedTaskOptions, type TaskDefinition } from '../../task/definition.js'
import { currentContext, type Task } from '../../task/task.js'
import { toMs } from '../../util/duration.js'
import { OutcomeBatchWriter, OutcomeKind, readRunBatch, type Outcome, type RunEntry } from '../../protocol/thread-batch.js'
import { decodeMessage, type TaskBody, type TaskHeaders } from '../../protocol/envelope.js'
import type { AppRegistration } from '../../app/registry.js'
import type { TaskContext, TaskRequest, StateUpdate } from '../../task/context.js'
import type { MainToThread, ThreadToMain } from '../../protocol/thread-messages.js'

type Post = (message: ThreadToMain, transfer?: ArrayBuffer[]) => void

interface Actor {
  definition: TaskDefinition
  options: ResolvedTaskOptions
  /** The one instance of a class task in this thread, built on first use. */
  instance?: Task
}

/** One task being run by this thread. */
interface Run {
  slot: number
  headers: TaskHeaders
  entry: RunEntry
  /** Created on first use: most tasks never look at their signal. */
  controller?: AbortController
  softTimer?: NodeJS.Timeout
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
  readonly #post: Post
  readonly #startedAt: Float64Array
  readonly #actors = new Map<string, Actor>()
  readonly #runs = new Map<number, Run>()
  readonly #resultCodec: Codec
  readonly #outcomes: OutcomeBatchWriter
  #flushQueued = false

  constructor(app: AppRegistration, hostname: string, startedAt: Float64Array, post: Post) {
    this.#app = app
    this.#hostname = hostname
    this.#startedAt = startedAt
    this.#post = post
    this.#resultCodec = codecByName(app.conf.resultSerializer)
    this.#outcomes = new OutcomeBatchWriter(this.#resultCodec.contentType)
  }

  handle(message: MainToThread): void {
    readRunBatch(message, (entry) => this.#start(entry))
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

  #start(entry: RunEntry): void {
    const { slot } = entry
    this.#startedAt[slot] = Date.now()
    // Posted before the task runs: a synchronous task may hold the thread for a long time.
    if (entry.reportStart) this.#post({ type: 'started', slots: [slot] })
    const began = performance.now()
    let run: Run = { slot, headers: { id: '?', task: '?' } as TaskHeaders, entry }
    let actor: Actor | undefined
    let request: TaskRequest | undefined
    try {
      const { headers, body } = decodeMessage(entry.frame)
      run = { slot, headers, entry }
      this.#runs.set(slot, run)
      actor = this.#actor(headers.task)
      const [args, kwargs] = codecFor(headers.contentType).decode(body) as TaskBody
      request = toRequest(headers, entry, this.#hostname, args, kwargs ?? {})
      const callArgs = kwargs && Object.keys(kwargs).length > 0 ? [...args, kwargs] : args
      const ctx = new RunContext(run, request, actor, this.#resultCodec, this.#post)
      if (entry.softTimeLimitMs !== undefined) armSoftLimit(run, entry.softTimeLimitMs)
      const value = currentContext.run(ctx, invoke, actor, ctx, callArgs)
      if (value instanceof Promise) {
        const [r, a, q] = [run, actor, request]
        value.then(
          (result) => this.#succeed(r, a, q, result, began),
          (error) => this.#fail(r, a, q, error, began),
        )
      } else {
        this.#succeed(run, actor, request, value, began)
      }
    } catch (error) {
      this.#fail(run, actor, request, error, began)
    }
  }

  #succeed(run: Run, actor: Actor, request: TaskRequest, result: unknown, began: number): void {
    const outcome: Outcome = { slot: run.slot, kind: OutcomeKind.Success, runtimeMs: performance.now() - began }
    try {
      if (!run.entry.ignoreResult && result !== undefined) {
        assertSerializable(result, `result of ${run.headers.task}`)
        outcome.result = this.#resultCodec.encode(result)
      }
    } catch (error) {
      return this.#fail(run, actor, request, error, began)
    }
    this.#finish(outcome, run, actor, request, () => hooksOf(actor).onSuccess?.(result, request), TaskState.SUCCESS, result)
  }

  #fail(run: Run, actor: Actor | undefined, request: TaskRequest | undefined, error: unknown, began: number): void {
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
      const outcome: Outcome = { slot, kind: OutcomeKind.Retry, delayMs, runtimeMs }
      if (cause !== undefined) outcome.error = toWireError(cause)
      this.#finish(outcome, run, actor, request, () => hooksOf(actor).onRetry?.(cause ?? error, request), TaskState.RETRY, cause ?? error)
    } else if (error instanceof Reject) {
      const outcome: Outcome = { slot, kind: OutcomeKind.Reject, requeue: error.requeue, error: toWireError(new TaskRejectedError(error.message)), runtimeMs }
      this.#finish(outcome, run, actor, request, undefined, TaskState.REJECTED, error)
    } else if (error instanceof Ignore) {
      this.#finish({ slot, kind: OutcomeKind.Ignore, runtimeMs }, run, actor, request, undefined, TaskState.IGNORED, error)
    } else {
      const hook = actor && request ? () => hooksOf(actor).onFailure?.(error, request) : undefined
      this.#finish({ slot, kind: OutcomeKind.Failure, error: toWireError(error), runtimeMs }, run, actor, request, hook, TaskState.FAILURE, error)
    }
  }

  #finish(outcome: Outcome, run: Run, actor: Actor | undefined, request: TaskRequest | undefined, hook: (() => unknown) | undefined, state: TaskState, value: unknown): void {
    this.#runs.delete(run.slot)
    if (run.softTimer) clearTimeout(run.softTimer)
    run.controller?.abort()
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
    this.#outcomes.add(outcome)
    if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(this.#flush)
    }
  }

  #flush = (): void => {
    this.#flushQueued = false
    const batch = this.#outcomes.take(getHeapStatistics().used_heap_size)
    this.#post(batch, [batch.table, batch.runtimes, batch.bytes])
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

function toRequest(headers: TaskHeaders, entry: RunEntry, hostname: string, args: unknown[], kwargs: Record<string, unknown>): TaskRequest {
  const request: TaskRequest = {
    id: headers.id,
    task: headers.task,
    args,
    kwargs,
    retries: headers.retries,
    hostname,
    rootId: headers.rootId,
    deliveryInfo: { exchange: entry.exchange, routingKey: entry.routingKey, queue: entry.queue, priority: entry.priority, redelivered: entry.redelivered },
    headers: headers.headers ?? {},
    isEager: false,
  }
  if (headers.parentId !== undefined) request.parentId = headers.parentId
  if (headers.groupId !== undefined) request.groupId = headers.groupId
  if (headers.eta !== undefined) request.eta = new Date(headers.eta)
  if (headers.expires !== undefined) request.expires = new Date(headers.expires)
  return request
}

function controllerOf(run: Run): AbortController {
  run.controller ??= new AbortController()
  return run.controller
}

function armSoftLimit(run: Run, ms: number): void {
  run.softTimer = setTimeout(() => {
    controllerOf(run).abort(new SoftTimeLimitExceeded(`soft time limit (${ms / 1000}s) exceeded by ${run.headers.task}[${run.headers.id}]`))
  }, ms)
}

/** The context of one run: what `ctx` (bound function tasks) and `this` (class tasks) reach. */
class RunContext implements TaskContext {
  readonly request: TaskRequest
  readonly #run: Run
  readonly #actor: Actor
  readonly #codec: Codec
  readonly #post: Post

  constructor(run: Run, request: TaskRequest, actor: Actor, codec: Codec, post: Post) {
    this.request = request
    this.#run = run
    this.#actor = actor
    this.#codec = codec
    this.#post = post
  }

  get name(): string {
    return this.request.task
  }

  get signal(): AbortSignal {
    return controllerOf(this.#run).signal
  }

  retry(options: RetryOptions = {}): never {
    throw retrySignal(options, this.request, this.#actor.options)
  }

  updateState({ state, meta }: StateUpdate): void {
    if (typeof state !== 'string' || state === '' || BUILT_IN_STATES.has(state)) {
      throw new InvalidArgumentError(`updateState: state must be a custom state name such as 'PROGRESS', got ${JSON.stringify(state)}`)
    }
    const update: ThreadToMain = { type: 'update', slot: this.#run.slot, state }
    if (meta !== undefined) {
      assertSerializable(meta, 'updateState meta')
      update.meta = ownBytes(this.#codec.encode(meta))
      update.contentType = this.#codec.contentType
    }
    this.#post(update)
  }
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
