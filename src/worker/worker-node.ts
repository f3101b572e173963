import { createActor, type Actor } from 'xstate'
import { NotRegistered, TaskRevokedError, TimeLimitExceeded, WorkerLostError } from '../errors.js'
import { decodeHeaders, decodeMessage, type TaskHeaders } from '../protocol/envelope.js'
import { InvalidMessageError } from '../protocol/validate-envelope.js'
import { ReasonLog } from './reason-log.js'
import { lifecycle, TaskEventType } from '../lifecycle/task-machine.js'
import { workerMachine, WorkerState } from '../lifecycle/worker-machine.js'
import { isReady, TaskState } from '../lifecycle/states.js'
import { ownBytes } from '../serialization/codec.js'
import { toWireError, type WireError } from '../serialization/failure.js'
import { sendEvent } from '../events/event-stream.js'
import { deferred } from '../util/deferred.js'
import { ThreadPool } from './pool/thread-pool.js'
import { StateRecorder } from './state-recorder.js'
import { RateGate } from './rate-gate.js'
import { continueFlow, sendErrbacks, successors } from '../canvas/flow.js'
import { RemoteControl, TaskOverrides, type ControlledNode } from './remote-control.js'
import { compileWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './worker-options.js'
import { InFlight, storingTask } from './in-flight.js'
import { Lookahead } from './lookahead.js'
import { ConsumerSet, declareQueues } from './consumer-set.js'
import { OutcomeKind, type Outcome, type RunEntry } from '../protocol/thread-batch.js'
import type { WorkerDeps } from './worker-deps.js'
import type { ObservedNode, TaskEnd, WorkerObserver } from './worker-observer.js'
import type { Observing } from '../observability/observe.js'
import type { Delivery, RevokedIds, Subscription, Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'
import type { TimerHandle } from '../util/clock.js'
import { toMs } from '../util/duration.js'

const VERSION = '0.1.0'
// A redelivered task whose stored state could not be read comes back after this long, ms.
const REDELIVERY_CHECK_RETRY_MS = 1_000
// How often the lookahead reads the rate tasks finish at, ms.
const LOOKAHEAD_SAMPLE_MS = 250

/** What each outcome kind means to an observer. */
const ENDS = ['succeeded', 'failed', 'retried', 'rejected', 'ignored'] as const satisfies Record<OutcomeKind, TaskEnd>

/** A timer that fires again and again; `handle` is the pending one. */
interface Periodic {
  handle: TimerHandle
}

/**
 * A worker node: consumes queues on the main thread, pulling no more messages than its
 * threads have free slots, supervises the tasks it hands to its {@link ThreadPool}, and
 * records every state change through the lifecycle machine. Its own states (new, starting,
 * running, draining, stopping, stopped, failed) are those of {@link workerMachine}.
 * @example
 * const node = app.worker({ concurrency: 2 })
 * await node.start()
 * await node.stop() // warm: running tasks finish
 */
export class WorkerNode {
  readonly options: ResolvedWorkerOptions
  readonly #deps: WorkerDeps
  readonly #machine: Actor<typeof workerMachine>
  // Made while starting; `#release` closes whichever of them exist.
  #transport!: Transport
  #backend!: ResultBackend
  #pool!: ThreadPool
  #recorder!: StateRecorder
  #revoked!: RevokedIds
  #control?: Subscription
  readonly #consumers = new ConsumerSet((queue, delivery) => this.#receive(queue, delivery))
  /** Tasks taken from a queue and not settled, by id. */
  readonly #active = new Map<string, InFlight>()
  /** Received tasks waiting for a free slot. */
  #waiting: InFlight[] = []
  /** Received tasks waiting for a rate limit. */
  readonly #gate: RateGate
  /** Tasks reserved beyond the free slots, from how fast tasks finish (see lookahead.ts). */
  readonly #lookahead: Lookahead
  #processed = 0
  /** Finished tasks by name, for `inspect stats`. */
  readonly #totals = new Map<string, number>()
  /** Rate and time limits set by remote control. */
  readonly #overrides = new TaskOverrides()
  #remote!: RemoteControl
  #startedAt = 0
  readonly #periodic: Periodic[] = []
  /** Sent worker-online: owes a worker-offline. */
  #online = false
  readonly #startup = deferred()
  readonly #drained = deferred()
  readonly #stopped = deferred()
  readonly #reasons: ReasonLog
  /** Task names already reported for holding a thread (see #held). */
  readonly #heldBy = new Set<string>()
  /** Metrics and traces; undefined when both are off, so the hot path pays one `?.`. */
  #observer: WorkerObserver | undefined
  #observing: Observing | undefined

  constructor(deps: WorkerDeps, options: WorkerOptions = {}) {
    this.#deps = deps
    this.options = compileWorkerOptions(options, deps.conf)
    this.#reasons = new ReasonLog(deps.logger, deps.clock)
    this.#lookahead = new Lookahead(this.options.lookaheadMs, this.options.concurrency * this.options.tasksPerThread)
    const node = this
    this.#gate = new RateGate({
      clock: deps.clock,
      logger: deps.logger,
      get transport() {
        return node.#transport
      },
      nodeIntervalMs: (item) => this.#overrides.rateLimitMs(item.headers.task, item.options.rateLimitIntervalMs),
      running: () => this.#state === WorkerState.RUNNING,
      proceed: (item) => this.#runOrWait(item),
      released: () => this.#pump(),
    })
    // xstate runs an action while it transitions, before the new state is readable: each runs
    // just after instead, so that what it does (and what it sends) sees the state it entered.
    // They only start work; what they start reports back with an event, never a throw.
    const after = (fn: () => void) => () => queueMicrotask(fn)
    this.#machine = createActor(workerMachine.provide({
      actions: {
        boot: after(() => void this.#boot()),
        consume: after(() => this.#consume()),
        drain: after(() => void this.#drain()),
        hurry: after(() => this.#drained.resolve()),
        close: after(() => void this.#close()),
        announceStopped: after(() => this.#stopped.resolve()),
        announceFailed: after(() => this.#deps.logger.error('worker failed to start', { hostname: this.hostname, error: this.failure })),
      },
    }))
    this.#machine.start()
  }

  get hostname(): string {
    return this.options.hostname
  }

  /** Where the node is in its lifecycle. */
  get state(): WorkerState {
    return this.#state
  }

  /** Why the node's start failed, if it did. */
  get failure(): unknown {
    return this.#machine.getSnapshot().context.error
  }

  /** Tasks this node has finished since it started. */
  get processed(): number {
    return this.#processed
  }

  /** Tasks on this node now: on threads, or received and waiting. */
  get active(): number {
    return this.#active.size
  }

  /** URLs of the metrics and probe endpoints this node serves, once started. */
  get endpoints(): { metrics?: string; health?: string } {
    return this.#observing?.endpoints ?? {}
  }

  /** Resolves once the node has stopped, whoever stopped it (a remote `shutdown` too). */
  get stopped(): Promise<void> {
    return this.#stopped.promise
  }

  // Read on the hot path: one call and a property, as cheap as the string it replaced.
  get #state(): WorkerState {
    return this.#machine.getSnapshot().value
  }

  /**
   * Connects, starts the threads, and begins consuming. Resolves once the node serves (or,
   * when `stop()` was called meanwhile, once it started and began to stop). Rejects with the
   * cause when the start fails; what it had made is closed again and the node is `failed`.
   * A node starts once: calling this again throws.
   */
  start(): Promise<void> {
    const state = this.#state
    if (state !== WorkerState.NEW) {
      const cause = this.failure
      const why = cause === undefined ? `it is ${state}` : `its start failed (${cause instanceof Error ? cause.message : String(cause)})`
      return Promise.reject(new Error(`worker ${this.hostname} cannot start: ${why}; a node starts once, create another with app.worker()`))
    }
    this.#machine.send({ type: 'START' })
    return this.#startup.promise
  }

  /**
   * Stops the node. Warm (default): stop consuming, let running tasks finish (up to the
   * shutdown timeout), requeue what never started. Cold: terminate threads now; unacked
   * tasks go back to their queue, acked ones that never started are re-sent.
   *
   * Safe in every state, and more than once: before a start it only marks the node stopped;
   * during a start it waits for the start to settle, then stops; after a failed start there
   * is nothing left to close. A cold stop during a warm one stops waiting for running tasks.
   */
  stop(options: { cold?: boolean } = {}): Promise<void> {
    this.#machine.send({ type: 'STOP', cold: options.cold ?? false })
    return this.#stopped.promise
  }

  /** Makes what the node runs on, then reports STARTED or, having closed it again, START_FAILED. */
  async #boot(): Promise<void> {
    const deps = this.#deps
    try {
      await deps.loadTasks()
      ;[this.#transport, this.#backend] = await Promise.all([deps.transport(), deps.backend()])
      this.#recorder = new StateRecorder({ backend: this.#backend, transport: this.#transport, hostname: this.hostname, clock: deps.clock, logger: deps.logger, sendEvents: this.options.sendEvents,
        onReady: (task, state, data) => continueFlow(deps.flow, task.headers, state, data).catch((error: unknown) => {
          deps.logger.error('could not send what follows a task in its workflow', { id: task.headers.id, task: task.headers.task, error })
          throw error
        }) })
      this.#revoked = await this.#transport.revoked()
      await this.#declareQueues()
      this.#pool = new ThreadPool({
        size: this.options.concurrency,
        perThread: this.options.tasksPerThread,
        modules: deps.modules(),
        appName: deps.appName,
        hostname: this.hostname,
        maxTasksPerChild: this.options.maxTasksPerChild,
        maxMemoryPerChildKb: this.options.maxMemoryPerChild,
        ...(this.options.maxOldGenerationSizeMb ? { resourceLimits: { maxOldGenerationSizeMb: this.options.maxOldGenerationSizeMb } } : {}),
        logger: deps.logger,
        // Each runs in a thread's message handler: a throw there would end the process, so
        // none can escape (see #guard).
        events: {
          started: (item) => this.#guard(item, 'its start', () => this.#started(item)),
          update: (item, state, meta, contentType) => this.#guard(item, 'a state it reported', () => void this.#recorder.apply(item, TaskEventType.PROGRESS, { customState: state, result: meta, contentType: contentType as never })),
          outcome: (item, outcome) => this.#guard(item, 'its outcome', () => (this.#observer ? this.#observer.within(item, () => this.#outcome(item, outcome)) : this.#outcome(item, outcome))),
          lost: (item, error, started) => this.#guard(item, 'the loss of its thread', () => this.#lost(item, error, started)),
          capacity: () => this.#guard(undefined, 'a free slot', () => this.#pump()),
          replaced: (reason) => this.#observer?.threadReplaced(reason),
          held: (threadId, ms, holder) => this.#held(threadId, ms, holder),
        },
      })
      await this.#observe()
      await this.#pool.start()
      this.#startedAt = deps.clock.now()
      this.#remote = new RemoteControl(deps, this.#controlled(), this.#overrides)
      this.#control = this.#remote.listen(this.#transport)
      // A node that says it is started answers remote control from then on.
      await this.#control.ready
    } catch (error) {
      await this.#release().catch((cause: unknown) => deps.logger.error('could not close what a failed start had made', { hostname: this.hostname, error: cause }))
      this.#machine.send({ type: 'START_FAILED', error })
      return this.#startup.reject(error)
    }
    this.#machine.send({ type: 'STARTED' })
    // Running: #consume settles the start. Otherwise a stop came during the start: it started, and now drains.
    if (this.#state !== WorkerState.RUNNING) this.#startup.resolve()
  }

  /** Entering running: the only place consuming begins. Settles start(). */
  #consume(): void {
    const { logger } = this.#deps
    // A stop that came right after the start: it is draining already.
    if (this.#state !== WorkerState.RUNNING) return this.#startup.resolve()
    try {
      for (const queue of this.options.queues) this.#consumers.open(this.#transport, queue)
    } catch (error) {
      // The transport refused a consumer (closed under us): the start fails, the node stops.
      this.#startup.reject(error)
      this.#machine.send({ type: 'STOP', cold: true })
      return
    }
    this.#every(Math.max(50, this.options.ackWaitMs / 3), () => this.#extendLeases())
    // Worker events go out whether task events are on or not, as Celery's: heartbeats are how monitors tell live nodes from dead ones.
    this.#online = true
    this.#workerEvent('worker-online')
    this.#every(this.options.heartbeatMs, () => this.#workerEvent('worker-heartbeat'))
    if (this.#lookahead.horizonMs > 0) this.#every(LOOKAHEAD_SAMPLE_MS, () => this.#lookahead.sample(this.#processed, this.#deps.clock.now()) && this.#pump())
    logger.info('worker ready', { hostname: this.hostname, concurrency: this.options.concurrency, tasksPerThread: this.options.tasksPerThread, queues: this.options.queues })
    this.#pump()
    this.#startup.resolve()
  }

  /** Entering draining: consume no more, give back what waits, let running tasks end (warm). */
  async #drain(): Promise<void> {
    const { clock, logger } = this.#deps
    try {
      await this.#consumers.closeAll((error) => logger.error('could not close a consumer', { hostname: this.hostname, error }))
      for (const item of this.#waiting) this.#giveBack(item)
      this.#waiting = []
      // Now, while the transport is open: a rate-limit wait may outlast the node.
      this.#gate.drain((item) => this.#giveBack(item))
      if (!this.#machine.getSnapshot().context.cold && this.#pool.busy > 0) {
        const timeout = clock.setTimeout(() => this.#drained.resolve(), this.options.shutdownTimeoutMs)
        await this.#drained.promise
        clock.clearTimeout(timeout)
      }
    } catch (error) {
      logger.error('could not drain the worker cleanly', { hostname: this.hostname, error })
    }
    // Whatever happened, the stop goes on: stop() must resolve.
    this.#machine.send({ type: 'DRAINED' })
  }

  /** Entering stopping: terminate threads, close subscriptions, say goodbye. */
  async #close(): Promise<void> {
    try {
      await this.#release()
      if (this.#online) this.#workerEvent('worker-offline')
    } catch (error) {
      this.#deps.logger.error('could not close the worker cleanly', { hostname: this.hostname, error })
    }
    this.#machine.send({ type: 'CLOSED' })
  }

  /** Closes whatever the node made, as far as it got (a failed start may have made only part). */
  async #release(): Promise<void> {
    for (const timer of this.#periodic) this.#deps.clock.clearTimeout(timer.handle)
    this.#periodic.length = 0
    // Undefined when a start failed before making them, whatever their declarations say.
    if (this.#pool !== undefined) await this.#pool.stop()
    this.#control?.unsubscribe()
    if (this.#revoked !== undefined) this.#revoked.close()
    await this.#observing?.close()
  }

  /** Starts metrics, traces and probes as the options ask; loaded only when asked for. */
  async #observe(): Promise<void> {
    const { metrics, health, tracing } = this.options
    if (!metrics && !health && !tracing) return
    const { observeWorker } = await import('../observability/observe.js')
    const pool = () => this.#pool
    const node: ObservedNode = {
      hostname: this.hostname,
      state: () => this.#state,
      active: () => pool().busy,
      prefetched: () => this.#active.size - pool().busy,
      rateLimited: () => this.#gate.held,
      threads: () => pool().size,
      threadsBusy: () => pool().threads.filter((t) => t.busy > 0).length,
      threadsHeld: () => pool().held,
      threadsUp: () => pool().threads.filter((t) => t.open).length,
      queues: () => this.options.queues,
      consuming: (queue) => this.#consumers.has(queue),
      transport: () => this.#transport,
    }
    this.#observing = await observeWorker(node, { metrics, health, tracing }, this.#deps.logger)
    this.#observer = this.#observing.observer
  }

  #declareQueues(): Promise<void> {
    return declareQueues(this.#transport, this.#deps.conf.taskQueues, this.options.queues)
  }

  /** Runs `fn` every `ms` on the node's clock while it runs or drains (leases of running tasks still need extending). */
  #every(ms: number, fn: () => void): void {
    const clock = this.#deps.clock
    const timer: Periodic = { handle: undefined }
    const tick = () => {
      const state = this.#state
      if (state !== WorkerState.RUNNING && state !== WorkerState.DRAINING) return
      fn()
      timer.handle = clock.setTimeout(tick, ms)
    }
    timer.handle = clock.setTimeout(tick, ms)
    this.#periodic.push(timer)
  }

  /** Grants consumers credit for exactly the slots no task is waiting for. */
  #pump(): void {
    const state = this.#state
    if (state !== WorkerState.RUNNING) {
      if (state === WorkerState.DRAINING && this.#pool.busy === 0) this.#drained.resolve()
      return
    }
    while (this.#waiting.length > 0 && this.#pool.free > 0) this.#run(this.#waiting.shift()!)
    this.#consumers.grant(this.#pool.free + this.#lookahead.count - this.#waiting.length - this.#gate.held)
  }

  /**
   * Runs `fn` for `item` so that nothing escapes it: what it throws is logged, and the task,
   * unless already settled, fails with the error (its message is acked once that is stored, or
   * dead-lettered when even that throws). The worker goes on.
   */
  #guard(item: InFlight | undefined, what: string, fn: () => void): void {
    try {
      fn()
    } catch (error) {
      this.#deps.logger.error(`could not handle ${what}`, { hostname: this.hostname, ...(item ? this.#about(item) : {}), error })
      if (item) this.#fail(item, error)
    }
  }

  /** Fails `item` with `error`, whatever state it was left in by what threw. */
  #fail(item: InFlight, error: unknown): void {
    if (this.#active.get(item.headers.id) === item) this.#settle(item)
    this.#observer?.ended(item, 'failed', undefined, error instanceof Error ? error : undefined)
    try {
      item.ackWhen(this.#recorder.apply(item, TaskEventType.FAIL, { error: toWireError(error) }))
    } catch (cause) {
      this.#deps.logger.error('could not record a task failure', { ...this.#about(item), error: cause })
      item.term(`could not handle the task: ${(error as Error)?.message ?? String(error)}`)
    }
  }

  #receive(queue: string, delivery: Delivery): void {
    this.#consumers.used(queue)
    try {
      this.#take(queue, delivery)
    } catch (error) {
      // A bug, or a message that got past every check: it goes to the dead letters, not round again.
      this.#deadLetter(delivery, `could not handle the message: ${(error as Error)?.message ?? String(error)}`, { queue })
      for (const [id, item] of this.#active) {
        if (item.delivery === delivery) this.#active.delete(id)
      }
      this.#guard(undefined, 'a free slot', () => this.#pump())
    }
  }

  /** Dead-letters a message that will not run here; logged once per kind of reason, not per message. */
  #deadLetter(delivery: Delivery, reason: string, fields: Record<string, unknown>): void {
    this.#reasons.note(reason, fields)
    delivery.term(reason)
  }

  #take(queue: string, delivery: Delivery): void {
    const deps = this.#deps
    let headers: TaskHeaders
    try {
      headers = decodeHeaders(delivery.body)
    } catch (error) {
      // A frame that breaks the schema has a reason that names the field; one that does not decode says so.
      const message = (error as Error).message
      this.#deadLetter(delivery, error instanceof InvalidMessageError ? message : `undecodable: ${message}`, { queue })
      return this.#pump()
    }
    const definition = deps.tasks.get(headers.task)
    if (!definition) {
      const error = new NotRegistered(`task ${headers.task} is not registered on ${this.hostname}: is its module in the app's include list?`)
      this.#deadLetter(delivery, `unregistered task ${headers.task}`, { queue, id: headers.id })
      void this.#recorder.apply({ headers, state: TaskState.PENDING }, TaskEventType.FAIL, { error: toWireError(error) })
      return this.#pump()
    }
    // A message this node still holds, handed out again (its ack wait ran out while the broker
    // was down): the run here goes on and settles the new delivery, instead of a second run.
    if (delivery.deliveryCount > 1 && (this.#active.get(headers.id) ?? storingTask(headers.id))?.adopt(delivery)) return this.#pump()
    const item = new InFlight(headers, delivery, definition, deps.resolvedOptions(definition))
    if (this.#revoked.has(headers.id)) return this.#revoke(item, { expired: false })
    // Read only for a task with a time to check against: most have none.
    const now = headers.expires === undefined && headers.eta === undefined ? 0 : deps.clock.now()
    if (headers.expires !== undefined && now >= headers.expires) return this.#revoke(item, { expired: true })
    if (headers.eta !== undefined && headers.eta > now) {
      // Early: back to the broker, which holds it until due (never held in this node's memory).
      this.#remote.noteScheduled(headers, delivery)
      item.nak(headers.eta - now)
      return this.#pump()
    }
    if (delivery.deliveryCount > 1) {
      return void this.#redelivered(item).catch((error: unknown) => {
        // The backend could not tell whether it already ran: try again later rather than guess.
        deps.logger.warn('could not check a redelivered task; it comes back later', { ...this.#about(item), error })
        this.#active.delete(headers.id)
        item.nak(REDELIVERY_CHECK_RETRY_MS)
        this.#guard(undefined, 'a free slot', () => this.#pump())
      })
    }
    this.#accept(item)
  }

  /** A message delivered again: run it unless its task already ended (then the copy is refused). */
  async #redelivered(item: InFlight): Promise<void> {
    const stored = await this.#backend.get(item.headers.id)
    if (stored && isReady(stored.state)) {
      this.#deps.logger.warn('refused a redelivered task that already ended', { ...this.#about(item), state: stored.state })
      item.ack()
      return this.#pump()
    }
    if (stored) {
      item.state = lifecycle.machineState(stored.state)
      // The node that held it is gone: the broker put it back in the queue.
      if (item.state === TaskState.RECEIVED || item.state === TaskState.STARTED) this.#recorder.apply(item, TaskEventType.REQUEUE)
    }
    this.#accept(item)
  }

  #accept(item: InFlight): void {
    this.#observer?.received(item, this.#deps.clock.now())
    this.#active.set(item.headers.id, item)
    // Handed on first: a task that can start at once has its thread waking while this turn
    // acks it and records RECEIVED (p50 of a round trip 0.87 against 0.90 ms, medians of 10
    // interleaved pairs of `npm run bench:round-trip`). Nothing a thread reports is read before
    // this turn ends, so RECEIVED is still the first state recorded. A task the hand-off
    // settled (given back by a stopping node, revoked, failed) was never received here.
    if (this.#deps.conf.workerDisableRateLimits) this.#runOrWait(item)
    else this.#gate.admit(item)
    if (this.#active.get(item.headers.id) !== item) return
    this.#recorder.apply(item, TaskEventType.RECEIVE)
  }

  #runOrWait(item: InFlight): void {
    if (this.#state !== WorkerState.RUNNING) return this.#giveBack(item)
    if (this.#pool.free > 0) this.#run(item)
    else this.#waiting.push(item)
  }

  #run(item: InFlight): void {
    const { headers } = item
    if (this.#revoked.has(headers.id)) return this.#revoke(item, { expired: false })
    // It may have waited for a slot or its rate limit since it was received.
    if (headers.expires !== undefined && this.#deps.clock.now() >= headers.expires) return this.#revoke(item, { expired: true })
    const [softMs, hardMs] = headers.timeLimit ?? [null, null]
    item.hardLimitMs = hardMs ?? this.#overrides.timeLimitMs(headers.task, item.options.timeLimitMs)
    item.recordStart = item.options.trackStarted || this.options.sendEvents
    const { delivery } = item
    const entry: RunEntry = {
      slot: -1,
      frame: delivery.body,
      queue: delivery.queue,
      exchange: delivery.exchange,
      routingKey: delivery.routingKey,
      priority: delivery.priority,
      redelivered: delivery.deliveryCount > 1,
      // A hard limit counts from the start report (see #started), so a limited task always sends one.
      reportStart: item.recordStart || item.hardLimitMs !== undefined,
      ignoreResult: item.ignoreResult ?? false,
      softTimeLimitMs: softMs ?? this.#overrides.softTimeLimitMs(headers.task, item.options.softTimeLimitMs),
    }
    if (this.#observer) {
      // Set only when traced: entries keep one shape on the hot path.
      const trace = this.#observer.started(item)
      if (trace !== undefined) entry.trace = trace
    }
    try {
      this.#pool.dispatch(item, entry)
    } catch (error) {
      this.#deps.logger.error('could not hand a task to a thread', { ...this.#about(item), error })
      return this.#fail(item, error)
    }
    // Acked early as it starts, as Celery acks: a task reserved here (waiting for a slot or
    // its rate limit) is still the broker's, delivered again if this node dies.
    if (!item.options.acksLate) item.ack()
  }

  /**
   * The thread began to run `item`. The hard time limit is armed here, on this node's clock:
   * from when the task starts, not when it was handed to its thread (where it may wait behind a
   * task that holds the thread), and on the injected clock rather than the thread's `Date.now()`,
   * so that a simulated clock drives the watchdog as it drives every other timer of the node.
   * The report arrives a message hop after the thread wrote its start time: the limit may run
   * that much longer, never shorter.
   */
  #started(item: InFlight): void {
    if (item.hardLimitMs !== undefined) this.#watch(item, item.hardLimitMs)
    if (item.recordStart) this.#recorder.apply(item, TaskEventType.START)
  }

  /** Terminates the thread running `item` once it has run for `limitMs`. */
  #watch(item: InFlight, limitMs: number): void {
    this.#disarm(item)
    item.timer = this.#deps.clock.setTimeout(() => {
      item.timer = undefined
      if (this.#active.get(item.headers.id) !== item) return
      this.#pool.kill(item, new TimeLimitExceeded(`${item.headers.task}[${item.headers.id}] exceeded its hard time limit of ${limitMs / 1000}s and its thread was terminated`))
    }, limitMs)
  }

  #disarm(item: InFlight): void {
    if (item.timer === undefined) return
    this.#deps.clock.clearTimeout(item.timer)
    item.timer = undefined
  }

  #settle(item: InFlight): void {
    this.#disarm(item)
    this.#active.delete(item.headers.id)
    this.#processed++
    this.#totals.set(item.headers.task, (this.#totals.get(item.headers.task) ?? 0) + 1)
  }

  #outcome(item: InFlight, outcome: Outcome): void {
    this.#settle(item)
    const error = outcome.error
    this.#observer?.ended(item, ENDS[outcome.kind], outcome.runtimeMs, error)
    switch (outcome.kind) {
      case OutcomeKind.Success: {
        let next: ReturnType<typeof successors>
        try {
          next = successors(this.#deps.flow, item.headers, outcome.result, outcome.contentType)
        } catch (cause) {
          // What follows it cannot even be planned: the workflow fails here, with why.
          this.#deps.logger.error('could not send what follows a task in its workflow', { ...this.#about(item), error: cause })
          item.ackWhen(this.#recorder.apply(item, TaskEventType.FAIL, { error: toWireError(cause), runtimeMs: outcome.runtimeMs }))
          return
        }
        // Logged here; the ack waits on it below when there is a record to wait with.
        next?.sent.catch((cause: unknown) => this.#deps.logger.error('could not send the next step of a chain', { ...this.#about(item), error: cause }))
        const stored = this.#recorder.apply(item, TaskEventType.SUCCEED, { result: outcome.result, contentType: outcome.contentType, runtimeMs: outcome.runtimeMs, ...(next ? { children: next.children } : {}) })
        // Early-acked tasks were acked at receipt: ackWhen does nothing for them.
        item.ackWhen(next && stored ? Promise.all([stored, next.sent]).then(() => undefined) : stored)
        return
      }
      case OutcomeKind.Failure: {
        const stored = this.#recorder.apply(item, TaskEventType.FAIL, { error, runtimeMs: outcome.runtimeMs })
        if (item.headers.errbacks && error) sendErrbacks(this.#deps.flow, item.headers, error)
        item.ackWhen(stored)
        return
      }
      case OutcomeKind.Retry:
        return void this.#retry(item, outcome.delayMs ?? 0, error)
      case OutcomeKind.Reject:
        if (outcome.requeue) {
          this.#recorder.apply(item, TaskEventType.REQUEUE, { requeue: true })
          return this.#giveBack(item, false)
        }
        this.#recorder.apply(item, TaskEventType.REJECT, { error })
        item.term(`rejected: ${error?.message ?? ''}`)
        return
      case OutcomeKind.Ignore:
        item.ackWhen(this.#recorder.apply(item, TaskEventType.IGNORE))
        return
    }
  }

  /** Re-sends the task with `retries + 1` after `delayMs`, then records RETRY and acks the original. */
  async #retry(item: InFlight, delayMs: number, error: WireError | undefined): Promise<void> {
    const headers: TaskHeaders = { ...item.headers, retries: item.headers.retries + 1, eta: this.#deps.clock.now() + delayMs }
    try {
      await this.#republish(item, headers)
    } catch (cause) {
      this.#deps.logger.error('could not re-send a task for retry', { ...this.#about(item), error: cause })
      item.ackWhen(this.#recorder.apply(item, TaskEventType.FAIL, { error: toWireError(cause) }))
      return
    }
    item.ackWhen(this.#recorder.apply(item, TaskEventType.RETRY, { error }))
  }

  #republish(item: InFlight, headers: TaskHeaders): Promise<string> {
    const { delivery } = item
    const route = delivery.exchange === '' ? { exchange: '', routingKey: delivery.queue, queue: delivery.queue } : { exchange: delivery.exchange, routingKey: delivery.routingKey }
    return this.#deps.publisher.publish(headers, ownBytes(decodeMessage(delivery.body).body), route, `${headers.id}.r${headers.retries}.${delivery.deliveryCount}`)
  }

  /** Puts a task that has not run back in its queue: nak when unacked, re-send when acked early. */
  #giveBack(item: InFlight, settle = true, record = settle): void {
    if (settle) this.#active.delete(item.headers.id)
    if (record) this.#recorder.apply(item, TaskEventType.REQUEUE, { requeue: true })
    if (item.nak()) return
    item.resend(() => this.#republish(item, item.headers))
      ?.catch((error: unknown) => this.#deps.logger.error('could not requeue a task: it is lost', { ...this.#about(item), error }))
  }

  #revoke(item: InFlight, how: { expired?: boolean; terminated?: boolean }): void {
    this.#settle(item)
    this.#observer?.ended(item, 'revoked', undefined, undefined)
    const reason = how.expired ? 'expired' : how.terminated ? 'revoked and terminated' : 'revoked'
    const stored = this.#recorder.apply(item, TaskEventType.REVOKE, { error: toWireError(new TaskRevokedError(`task ${item.headers.task}[${item.headers.id}] ${reason}`)), ...how })
    item.ackWhen(stored)
    this.#pump()
  }

  /**
   * A task has held its thread's event loop for `ms`. With several tasks per thread, the ones
   * already on it wait (new ones go elsewhere). Logged once per task name: a queue of CPU-bound
   * tasks gives one line, not one per task.
   */
  #held(threadId: number, ms: number, holder: InFlight | undefined): void {
    if (this.options.tasksPerThread === 1) return
    const task = holder?.headers.task ?? ''
    if (this.#heldBy.has(task) || this.#heldBy.size >= 1_000) return
    this.#heldBy.add(task)
    this.#deps.logger.warn(`${task === '' ? 'a task' : `task ${task}`} held its worker thread for ${(ms / 1000).toFixed(1)} s: the tasks already on that thread waited for it. Run CPU-bound tasks on a queue of their own, served by a worker with --tasks-per-thread 1`, { hostname: this.hostname, threadId, ...(holder ? this.#about(holder) : {}) })
  }

  #lost(item: InFlight, error: Error, started: boolean): void {
    if (item.killedFor instanceof TaskRevokedError) return this.#revoke(item, { terminated: true })
    if (!started && !(error instanceof TimeLimitExceeded)) {
      // It never ran: run it elsewhere (a new thread, or another node when stopping). Its
      // limit counts again from its next start (a start report may have come before its thread died).
      item.threadId = undefined
      this.#disarm(item)
      return this.#state === WorkerState.RUNNING ? this.#runOrWait(item) : this.#giveBack(item)
    }
    if (this.#state === WorkerState.STOPPING && !item.settled) {
      // A cold stop is chosen, not a crash: an unacked task goes back to its queue.
      this.#settle(item)
      return this.#giveBack(item, false, true)
    }
    if (!(error instanceof TimeLimitExceeded) && item.options.acksLate && item.options.rejectOnWorkerLost && !item.settled) {
      this.#settle(item)
      this.#deps.logger.warn('task lost with its thread: requeued (rejectOnWorkerLost)', this.#about(item))
      this.#recorder.apply(item, TaskEventType.REQUEUE, { requeue: true })
      item.nak()
      return
    }
    this.#settle(item)
    const failure = error instanceof TimeLimitExceeded || error instanceof WorkerLostError ? error : new WorkerLostError(error.message, { cause: error })
    this.#observer?.ended(item, 'failed', undefined, failure)
    const wire = toWireError(failure)
    const stored = this.#recorder.apply(item, TaskEventType.FAIL, { error: wire })
    if (item.headers.errbacks) sendErrbacks(this.#deps.flow, item.headers, wire)
    item.ackWhen(stored)
  }

  /** The fields of a log line about a task: its id and name, and its trace and span when traced. */
  #about(item: InFlight): Record<string, unknown> {
    return { id: item.headers.id, task: item.headers.task, ...this.#observer?.logFields(item) }
  }

  /** What remote control sees of this node and may change. */
  #controlled(): ControlledNode {
    return {
      hostname: this.hostname,
      options: this.options,
      startedAt: this.#startedAt,
      tasks: () => this.#active.values(),
      threadStartedAt: (item) => (item.threadId === undefined ? 0 : this.#pool.startedAt(item)),
      revokedIds: () => this.#revoked.list(),
      totals: () => this.#totals,
      poolSize: () => this.#pool.size,
      threadsHeld: () => this.#pool.held,
      revoke: (ids, terminate) => this.#revokeRunning(ids, terminate),
      setEvents: (on) => {
        this.options.sendEvents = on
        this.#recorder.sendEvents = on
      },
      addConsumer: (queue) => this.#addConsumer(queue),
      cancelConsumer: (queue) => this.#cancelConsumer(queue),
      grow: async (n) => {
        await this.#pool.grow(n)
        this.#pump()
      },
      shrink: (n) => this.#pool.shrink(n),
      shutdown: () => void this.stop(),
    }
  }

  async #addConsumer(queue: string): Promise<boolean> {
    if (this.#state !== WorkerState.RUNNING) throw new Error(`${this.hostname} is ${this.#state}`)
    if (this.#consumers.has(queue)) return false
    const previous = this.options.queues
    this.options.queues = [...previous, queue]
    try {
      await this.#declareQueues()
    } catch (error) {
      this.options.queues = previous
      throw error
    }
    // Declaring took a while: a stop may have begun meanwhile, and consuming happens only while running.
    if (this.#state !== WorkerState.RUNNING) {
      this.options.queues = previous
      throw new Error(`${this.hostname} is ${this.#state}`)
    }
    this.#consumers.open(this.#transport, queue)
    this.#pump()
    return true
  }

  async #cancelConsumer(queue: string): Promise<boolean> {
    if (!this.#consumers.has(queue)) return false
    this.options.queues = this.options.queues.filter((q) => q !== queue)
    return this.#consumers.close(queue)
  }

  #revokeRunning(ids: string[], terminate: boolean): void {
    // The broadcast may come before the stored revocations reach this node's view: counted now,
    // so the node refuses them and lists them (inspect revoked) from this moment.
    const until = this.#deps.clock.now() + toMs(this.#deps.conf.workerRevokeExpires, 'config.workerRevokeExpires')
    for (const id of ids) this.#revoked.note(id, until)
    for (const id of ids) {
      const item = this.#active.get(id)
      if (!item) continue
      if (item.threadId !== undefined && terminate) this.#pool.kill(item, new TaskRevokedError(`task ${id} revoked and terminated`))
      const waiting = this.#waiting.indexOf(item)
      if (waiting !== -1) {
        this.#waiting.splice(waiting, 1)
        this.#revoke(item, {})
      }
    }
  }

  #extendLeases(): void {
    for (const item of this.#active.values()) item.working()
  }

  #workerEvent(type: 'worker-online' | 'worker-heartbeat' | 'worker-offline'): void {
    sendEvent(this.#transport, {
      type, hostname: this.hostname, timestamp: this.#deps.clock.now(), freq: this.options.heartbeatMs / 1000,
      swIdent: 'celeriac', swVer: VERSION, swSys: process.platform, active: this.#active.size, processed: this.#processed,
    })
  }
}
