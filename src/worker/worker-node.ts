import { createActor, type Actor } from 'xstate'
import { workerMachine, WorkerState } from '../lifecycle/worker-machine.js'
import { sendEvent } from '../events/event-stream.js'
import { deferred } from '../util/deferred.js'
import { ThreadPool } from './pool/thread-pool.js'
import { StateRecorder } from './state-recorder.js'
import { continueFlow } from '../canvas/flow.js'
import { RemoteControl, TaskOverrides, type ControlledNode } from './remote-control.js'
import { compileWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './worker-options.js'
import { Lookahead } from './lookahead.js'
import { ConsumerSet, declareQueues } from './consumer-set.js'
import { TaskSupervisor } from './task-supervisor.js'
import type { WorkerDeps } from './worker-deps.js'
import type { ObservedNode } from './worker-observer.js'
import type { Observing } from '../observability/observe.js'
import type { RevokedIds, Subscription, Transport } from '../transport/transport.js'
import type { TimerHandle } from '../util/clock.js'
import type { WorkerEvent } from '../events/events.js'

const VERSION = '0.1.0'
// How long a stop waits for the records of tasks it stopped (WorkerLostError) before it says
// they were not stored, ms.
const RECORDS_AT_STOP_MS = 2_000
// How often the lookahead reads the rate tasks finish at, ms.
const LOOKAHEAD_SAMPLE_MS = 250

/** A timer that fires again and again; `handle` is the pending one. */
interface Periodic {
  handle: TimerHandle
}

/**
 * A worker node: consumes queues on the main thread, pulling no more messages than its
 * threads have free slots (and a lookahead while tasks are short), and hands what it receives
 * to its {@link TaskSupervisor}, which runs each task on the {@link ThreadPool} and records
 * every state change. The node starts and stops all of it, and answers remote control. Its
 * own states (new, starting, running, draining, stopping, stopped, failed) are those of
 * {@link workerMachine}.
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
  #pool!: ThreadPool
  #recorder!: StateRecorder
  #revoked!: RevokedIds
  #control?: Subscription
  readonly #tasks: TaskSupervisor
  readonly #consumers = new ConsumerSet((queue, delivery) => {
    this.#consumers.used(queue)
    this.#tasks.receive(queue, delivery)
  })
  /** Tasks reserved beyond the free slots, from how fast tasks finish (see lookahead.ts). */
  readonly #lookahead: Lookahead
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
  #observing: Observing | undefined

  constructor(deps: WorkerDeps, options: WorkerOptions = {}) {
    this.#deps = deps
    this.options = compileWorkerOptions(options, deps.conf)
    this.#lookahead = new Lookahead(this.options.lookaheadMs, this.options.concurrency * this.options.tasksPerThread)
    this.#tasks = new TaskSupervisor({
      hostname: this.options.hostname,
      deps,
      options: this.options,
      overrides: this.#overrides,
      state: () => this.#state,
      pump: () => this.#pump(),
      scheduled: (headers, delivery) => this.#remote.noteScheduled(headers, delivery),
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
    return this.#tasks.processed
  }

  /** Tasks on this node now: on threads, or received and waiting. */
  get active(): number {
    return this.#tasks.active.size
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
      const [transport, backend] = await Promise.all([deps.transport(), deps.backend()])
      this.#transport = transport
      this.#recorder = new StateRecorder({ backend, transport, hostname: this.hostname, clock: deps.clock, logger: deps.logger, sendEvents: this.options.sendEvents,
        onReady: (task, state, data) => continueFlow(deps.flow, task.headers, state, data).catch((error: unknown) => {
          deps.logger.error('could not send what follows a task in its workflow', { id: task.headers.id, task: task.headers.task, error })
          throw error
        }) })
      this.#revoked = await transport.revoked()
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
        events: this.#tasks.events,
      })
      this.#tasks.attach({ transport, backend, recorder: this.#recorder, revoked: this.#revoked, pool: this.#pool })
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
    // By the shortest lease of the queues consumed, as the broker has it: a queue whose
    // consumer was made with a shorter ack wait than this node's would redeliver running tasks.
    this.#every(() => Math.max(50, this.#leaseMs() / 3), () => this.#tasks.extendLeases())
    // Worker events go out whether task events are on or not, as Celery's: heartbeats are how monitors tell live nodes from dead ones.
    this.#online = true
    this.#workerEvent('worker-online')
    this.#every(this.options.heartbeatMs, () => this.#workerEvent('worker-heartbeat'))
    if (this.#lookahead.horizonMs > 0) this.#every(LOOKAHEAD_SAMPLE_MS, () => this.#lookahead.sample(this.#tasks.processed, this.#deps.clock.now()) && this.#pump())
    logger.info('worker ready', { hostname: this.hostname, concurrency: this.options.concurrency, tasksPerThread: this.options.tasksPerThread, queues: this.options.queues })
    this.#pump()
    this.#startup.resolve()
  }

  /** Entering draining: consume no more, give back what waits, let running tasks end (warm). */
  async #drain(): Promise<void> {
    const { clock, logger } = this.#deps
    const deadline = clock.now() + this.options.shutdownTimeoutMs
    try {
      await this.#consumers.closeAll((error) => logger.error('could not close a consumer', { hostname: this.hostname, error }))
      this.#tasks.giveBackWaiting()
      if (!this.#machine.getSnapshot().context.cold && this.#pool.busy > 0) {
        const timeout = clock.setTimeout(() => {
          this.#tasks.stopped.how = `past its warm shutdown's ${this.options.shutdownTimeoutMs / 1000} s (workerShutdownTimeout)`
          logger.warn(`warm shutdown: tasks still running after ${this.options.shutdownTimeoutMs / 1000} s (workerShutdownTimeout): stopping them`, { hostname: this.hostname, running: this.#pool.busy })
          this.#drained.resolve()
        }, this.options.shutdownTimeoutMs)
        await this.#drained.promise
        clock.clearTimeout(timeout)
      }
      // The tasks that ended are done only once their outcome is stored: the backend may be
      // out of reach (a broker outage), and an early-acked task's result would be lost.
      if (!this.#machine.getSnapshot().context.cold && this.#recorder.unsettled > 0) {
        await this.#settledWithin(deadline - clock.now())
      }
    } catch (error) {
      logger.error('could not drain the worker cleanly', { hostname: this.hostname, error })
    }
    // Whatever happened, the stop goes on: stop() must resolve.
    this.#machine.send({ type: 'DRAINED' })
  }

  /** Waits until the records started so far are stored, or `ms` have passed. */
  async #settledWithin(ms: number): Promise<void> {
    const clock = this.#deps.clock
    let timeout: TimerHandle | undefined
    await Promise.race([this.#recorder.settled(), new Promise<void>((resolve) => (timeout = clock.setTimeout(resolve, Math.max(0, ms))))])
    clock.clearTimeout(timeout)
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
    if (this.#pool !== undefined) {
      await this.#pool.stop()
      // Celery's "Restoring N unacknowledged message(s)": what a cold stop did to running tasks.
      const { requeued, failed } = this.#tasks.stopped
      // A cold stop's WorkerLostError records are on their way: a live backend stores them in
      // milliseconds; a wait past that means it does not answer.
      if ((this.#recorder?.unsettled ?? 0) > 0) await this.#settledWithin(RECORDS_AT_STOP_MS)
      const unstored = this.#recorder?.unsettled ?? 0
      if (unstored > 0) this.#deps.logger.error(`stopped with ${unstored} task outcomes not stored yet (the result backend did not answer in time): an early-acked task's record stays as it was (PENDING or STARTED); an acksLate task runs again`, { hostname: this.hostname, unstored })
      if (requeued + failed > 0) this.#deps.logger.warn(`stopped with tasks still running: ${requeued} went back to their queues, ${failed} failed with WorkerLostError (acked as they started: acksLate is off)`, { hostname: this.hostname, requeued, failed })
    }
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
      prefetched: () => this.#tasks.active.size - pool().busy,
      rateLimited: () => this.#tasks.rateLimited,
      taskNames: () => this.#deps.tasks.keys(),
      threads: () => pool().size,
      threadsBusy: () => pool().threads.filter((t) => t.busy > 0).length,
      threadsHeld: () => pool().held,
      threadsUp: () => pool().threads.filter((t) => t.open).length,
      queues: () => this.options.queues,
      consuming: (queue) => this.#consumers.has(queue),
      transport: () => this.#transport,
    }
    this.#observing = await observeWorker(node, { metrics, health, tracing }, this.#deps.logger)
    this.#tasks.observer = this.#observing.observer
  }

  #declareQueues(): Promise<void> {
    return declareQueues(this.#transport, this.#deps.conf.taskQueues, this.options.queues)
  }

  /** Runs `fn` every `ms` (read again at each tick) on the node's clock while it runs or drains (leases of running tasks still need extending). */
  #every(ms: number | (() => number), fn: () => void): void {
    const clock = this.#deps.clock
    const timer: Periodic = { handle: undefined }
    const period = typeof ms === 'number' ? () => ms : ms
    const tick = () => {
      const state = this.#state
      if (state !== WorkerState.RUNNING && state !== WorkerState.DRAINING) return
      fn()
      timer.handle = clock.setTimeout(tick, period())
    }
    timer.handle = clock.setTimeout(tick, period())
    this.#periodic.push(timer)
  }

  /** The shortest time a running task's delivery stays leased, ms: this node's ack wait, or a queue's if shorter. */
  #leaseMs(): number {
    let lease = this.options.ackWaitMs
    for (const queue of this.#consumers.consumed()) lease = Math.min(lease, this.#transport.leaseMs?.(queue) ?? Infinity)
    return lease
  }

  /** Grants consumers credit for exactly the slots no task is waiting for. */
  #pump(): void {
    const state = this.#state
    if (state !== WorkerState.RUNNING) {
      if (state === WorkerState.DRAINING && this.#pool.busy === 0) this.#drained.resolve()
      return
    }
    this.#consumers.grant(this.#tasks.fill() + this.#lookahead.count)
  }

  /** What remote control sees of this node and may change. */
  #controlled(): ControlledNode {
    return {
      hostname: this.hostname,
      options: this.options,
      startedAt: this.#startedAt,
      tasks: () => this.#tasks.listed(),
      revokedIds: () => this.#revoked.list(),
      totals: () => this.#tasks.totals,
      poolSize: () => this.#pool.size,
      threadsHeld: () => this.#pool.held,
      revoke: (ids, terminate) => this.#tasks.revoke(ids, terminate),
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

  #workerEvent(type: 'worker-online' | 'worker-heartbeat' | 'worker-offline'): void {
    // `active` is what the threads run, as Celery's and as celeriac_worker_tasks_active;
    // `reserved` is what the node holds besides (lookahead, a rate limit), its tasks_prefetched.
    const running = this.#pool.busy
    const event: WorkerEvent = {
      type, hostname: this.hostname, timestamp: this.#deps.clock.now(), freq: this.options.heartbeatMs / 1000,
      swIdent: 'celeriac', swVer: VERSION, swSys: process.platform, active: running, reserved: Math.max(0, this.#tasks.active.size - running), processed: this.#tasks.processed,
    }
    sendEvent(this.#transport, event)
  }
}
