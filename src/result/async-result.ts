import { TaskIgnoredError } from '../errors.js'
import { READY_STATES, TaskState, type StateName } from '../lifecycle/states.js'
import { codecFor } from '../serialization/codec.js'
import { fromWireError } from '../serialization/failure.js'
import { AsyncQueue } from '../util/async-queue.js'
import { toMs } from '../util/duration.js'
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js'
import { checkGetOptions, isWaitTimeout, waitTimeout, type GetOptions, type ResultLike, type StateChange } from './result-like.js'
import type { ResultBackend, TaskMeta } from './backend.js'

export type { GetOptions, StateChange } from './result-like.js'

/** What an {@link AsyncResult} needs from its app. */
export interface ResultSource {
  backend(): Promise<ResultBackend>
  /** The backend if already connected (saves a turn on hot paths). */
  connectedBackend?(): ResultBackend | undefined
  revoke(taskId: string, options: { terminate?: boolean }): Promise<void>
  /** The app's clock: `get({ timeout })` runs out on it. Default: the system clock. */
  clock?(): Clock
  /**
   * Why a result may never reach this process's in-process backend (its broker is shared, and
   * no worker runs here), said once to the log and in a `get()` timeout; asked only of a
   * `memory` backend.
   */
  strandedHint?(): string | undefined
}

/** A task and the tasks it sent, recursively: see {@link AsyncResult.graph}. */
export interface ResultGraph {
  id: string
  state: StateName
  children: ResultGraph[]
}

/** The options of a get() that gives none, shared: callers may wait on many thousands at once. */
const NO_OPTIONS: GetOptions = Object.freeze({})

const PENDING_META = (taskId: string): TaskMeta => ({ taskId, state: TaskState.PENDING })

/** Decodes a stored record into what observers see. */
export function toStateChange(meta: TaskMeta): StateChange {
  const change: StateChange = { taskId: meta.taskId, state: meta.state }
  if (meta.result !== undefined && meta.contentType) change.result = codecFor(meta.contentType).decode(meta.result)
  if (meta.error) change.error = fromWireError(meta.error)
  if (meta.retries !== undefined) change.retries = meta.retries
  if (meta.worker !== undefined) change.worker = meta.worker
  return change
}

/** The app's side of a handle: what a group it belongs to saves itself through. Not exported from the package. */
export let sourceOf: (result: AsyncResult<any>) => ResultSource

/**
 * A handle on a task's result, for any id: an unknown id is PENDING. Every method asks the
 * backend; `get` and `changes` wait on its watch, never by polling.
 */
export class AsyncResult<R = unknown> implements ResultLike<R> {
  static {
    sourceOf = (result) => result.#source
  }

  readonly id: string
  /** In a chain: the result of the step before this one (its value was this task's first argument), a task's or a group's. */
  parent?: ResultLike
  /**
   * Sent with `ignoreResult`: no result will be stored, so {@link get} resolves to `undefined`
   * at once instead of waiting for ever (Celery's `AsyncResult.ignored`).
   */
  readonly ignored: boolean
  readonly #source: ResultSource

  constructor(id: string, source: ResultSource, options: { ignored?: boolean } = {}) {
    this.id = id
    this.#source = source
    this.ignored = options.ignored ?? false
  }

  async #meta(): Promise<TaskMeta> {
    return (await (await this.#source.backend()).get(this.id)) ?? PENDING_META(this.id)
  }

  /** The current state: PENDING, RECEIVED, STARTED, a custom state, RETRY, SUCCESS, FAILURE, REVOKED... */
  async state(): Promise<StateName> {
    return (await this.#meta()).state
  }

  /** True once the task will not change state again. */
  async ready(): Promise<boolean> {
    return READY_STATES.has(await this.state())
  }

  async successful(): Promise<boolean> {
    return (await this.state()) === TaskState.SUCCESS
  }

  async failed(): Promise<boolean> {
    return (await this.state()) === TaskState.FAILURE
  }

  /** The return value on SUCCESS, the error on failure states, the meta of a custom state. */
  async result(): Promise<R | Error | unknown> {
    const change = toStateChange(await this.#meta())
    return change.error ?? change.result
  }

  /** The remote stack of a failed task. */
  async traceback(): Promise<string | undefined> {
    return (await this.#meta()).error?.stack
  }

  /**
   * Waits for the task to be ready and returns its value; throws its error when it failed
   * (unless `propagate: false`, which returns the error instead). A task sent with
   * `ignoreResult` stores nothing: its `get()` resolves to `undefined` at once.
   */
  get(options: GetOptions & { propagate: false }): Promise<R | Error>
  // Options typed GetOptions (passed along, built elsewhere) keep the type they always had.
  get(options?: GetOptions): Promise<R>
  get(options: GetOptions = NO_OPTIONS): Promise<R | Error> {
    if (options !== NO_OPTIONS) {
      try {
        checkGetOptions(options)
      } catch (error) {
        return Promise.reject(error)
      }
    }
    if (this.ignored) return Promise.resolve(undefined as R)
    if (options.followParents && this.parent) return this.#followingParents(options)
    const backend = this.#source.connectedBackend?.()
    const clock = this.#source.clock?.() ?? systemClock
    if (backend) return new Waiter<R>(this.id, backend, clock, options, this.#hint(backend)).promise
    return this.#source.backend().then((b) => new Waiter<R>(this.id, b, clock, options, this.#hint(b)).promise)
  }

  #hint(backend: ResultBackend): string | undefined {
    return backend.kind === 'memory' ? this.#source.strandedHint?.() : undefined
  }

  /** {@link get} that also fails as soon as a step before this one fails. */
  #followingParents(options: GetOptions): Promise<R | Error> {
    const parents: ResultLike[] = []
    for (let parent = this.parent; parent; parent = parent.parent) parents.push(parent)
    const own = this.get({ ...options, followParents: false })
    // A parent that succeeds settles nothing; one that fails settles the wait with its error.
    // Their own wait running out is this wait's business: own's timeout says it.
    const never = new Promise<never>(() => {})
    const parentFailed = parents.map((parent) =>
      parent.get({ ...(options.timeout === undefined ? {} : { timeout: options.timeout }) }).then(
        () => never,
        (error: unknown) => {
          if (isWaitTimeout(error)) return never
          if (options.propagate === false) return error as R
          throw error
        },
      ),
    )
    return Promise.race([own, ...parentFailed])
  }

  /**
   * What the task reports now (Celery's `info`): while STARTED, `{ hostname, pid }` of the
   * worker process running it (recorded when `trackStarted` is on); a custom state's meta
   * (PROGRESS); the return value on SUCCESS; the error on failure states; `undefined` while
   * PENDING or RECEIVED.
   */
  async info(): Promise<unknown> {
    return this.result()
  }

  /**
   * This task's state changes: the current state first, then every accepted transition in
   * order, ending after a ready state. `break` stops watching.
   */
  changes(): AsyncIterableIterator<StateChange> {
    let unwatch = () => {}
    let closed = false
    const queue = new AsyncQueue<StateChange>(() => {
      closed = true
      unwatch()
    })
    const push = (meta: TaskMeta) => {
      queue.push(toStateChange(meta))
      if (READY_STATES.has(meta.state)) queue.end()
    }
    void (async () => {
      const backend = await this.#source.backend()
      let seen = false
      const stop = await backend.watch(this.id, (meta) => {
        seen = true
        push(meta)
      })
      if (closed) return stop()
      unwatch = stop
      const current = (await backend.get(this.id)) ?? PENDING_META(this.id)
      // A change that arrived while reading already covers the current state.
      if (!seen) push(current)
    })().catch((error) => queue.end(error))
    return queue
  }

  /** The tasks this one sent: its chain's next step, its link callbacks, as stored with its result. */
  async children(): Promise<AsyncResult[]> {
    return ((await this.#meta()).children ?? []).map((id) => new AsyncResult(id, this.#source))
  }

  /**
   * This task and everything it led to, as a tree of ids (Celery's `graph`): each node's
   * children are the tasks it sent, read from the backend.
   */
  async graph(): Promise<ResultGraph> {
    const children = await this.children()
    return { id: this.id, state: await this.state(), children: await Promise.all(children.map((child) => child.graph())) }
  }

  /** Revokes the task: it will not run; with `terminate`, a running task's thread is terminated. */
  async revoke(options: { terminate?: boolean } = {}): Promise<void> {
    await this.#source.revoke(this.id, options)
  }

  /** Removes the task's result from the backend. */
  async forget(): Promise<void> {
    await (await this.#source.backend()).forget(this.id)
  }

  toString(): string {
    return this.id
  }
}

/**
 * One pending `get()`: a single object holding the watch, the timer and the promise, because
 * callers may wait on many thousands of results at once.
 */
class Waiter<R> {
  readonly promise: Promise<R>
  readonly #id: string
  readonly #options: GetOptions
  #resolve!: (value: R) => void
  #reject!: (error: unknown) => void
  #unwatch: (() => void) | undefined
  readonly #clock: Clock
  #timer: TimerHandle | undefined
  #done = false

  constructor(id: string, backend: ResultBackend, clock: Clock, options: GetOptions, hint: string | undefined) {
    this.#id = id
    this.#options = options
    this.#clock = clock
    this.promise = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    if (options.timeout !== undefined) {
      const ms = toMs(options.timeout, 'get timeout')
      this.#timer = holdOpen(clock.setTimeout(() => this.#fail(waitTimeout(`result of task ${id} not ready after ${ms / 1000}s${hint === undefined ? '' : `: ${hint}`}`)), ms))
    }
    const local = backend.local
    if (local !== undefined) {
      // Records in this process: read, then watched only when not ready, in this turn (see
      // LocalRecords), so nothing can be stored in between.
      try {
        const current = local.read(id)
        if (current !== undefined && READY_STATES.has(current.state)) this.#settle(current)
        else this.#unwatch = local.watch(id, this.#observe)
      } catch (error) {
        this.#fail(error)
      }
      return
    }
    // A record pushed to this process needs neither (see ResultBackend.awaitReady); changes
    // along the way do, so onMessage takes the long way.
    const pushed = options.onMessage === undefined ? backend.push?.awaitReady(id, this.#observe, () => this.#watch(backend)) : undefined
    if (pushed !== undefined) this.#unwatch = pushed
    else this.#watch(backend)
  }

  /** Watches first, then reads: a result stored in between is seen by one or the other. */
  #watch(backend: ResultBackend): void {
    if (this.#done) return
    backend
      // A value at the task's key that is no record (a stranger's write) ends the wait with
      // the BackendError that names it, as a read of it does, rather than a wait for ever.
      .watch(this.#id, this.#observe, this.#unreadable)
      .then((unwatch) => {
        if (this.#done) return unwatch()
        this.#unwatch = unwatch
        return backend.get(this.#id).then((current) => {
          if (current && READY_STATES.has(current.state)) this.#settle(current)
        })
      })
      .catch((error) => this.#fail(error))
  }

  #unreadable = (error: Error): void => this.#fail(error)

  #observe = (meta: TaskMeta): void => {
    this.#options.onMessage?.(toStateChange(meta))
    if (READY_STATES.has(meta.state)) this.#settle(meta)
  }

  #settle(meta: TaskMeta): void {
    if (this.#done) return
    let change: StateChange
    try {
      change = toStateChange(meta)
    } catch (error) {
      return this.#fail(error)
    }
    if (change.state === TaskState.SUCCESS) {
      this.#end()
      return this.#resolve(change.result as R)
    }
    const error = change.error ?? new TaskIgnoredError(`task ${this.#id} ended ${change.state} without a result`)
    if (this.#options.propagate === false) {
      this.#end()
      return this.#resolve(error as R)
    }
    this.#fail(error)
  }

  #fail(error: unknown): void {
    if (this.#done) return
    this.#end()
    this.#reject(error)
  }

  #end(): void {
    this.#done = true
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#unwatch?.()
  }
}

/**
 * The system clock's timers do not hold the process open; an awaited `get()` must, or a script
 * waiting on nothing else would exit instead of timing out. A simulated clock's handle has no `ref`.
 */
function holdOpen(timer: TimerHandle): TimerHandle {
  ;(timer as { ref?: () => void } | null)?.ref?.()
  return timer
}
