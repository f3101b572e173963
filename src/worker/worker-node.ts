import { NotRegistered, TaskRevokedError, TimeLimitExceeded, WorkerLostError } from '../errors.js'
import { decodeHeaders, decodeMessage, type TaskHeaders } from '../protocol/envelope.js'
import { lifecycle, TaskEventType } from '../lifecycle/task-machine.js'
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
import type { App } from '../app/app.js'
import type { InFlight } from './in-flight.js'
import { OutcomeKind, type Outcome, type RunEntry } from '../protocol/thread-batch.js'
import type { Consumer, Delivery, RevokedIds, Subscription, Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'
import type { TimerHandle } from '../util/clock.js'

type NodeState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped'

const VERSION = '0.1.0'

/**
 * A worker node: consumes queues on the main thread, pulling no more messages than its
 * threads have free slots, supervises the tasks it hands to its {@link ThreadPool}, and
 * records every state change through the lifecycle machine.
 * @example
 * const node = app.worker({ concurrency: 2 })
 * await node.start()
 * await node.stop() // warm: running tasks finish
 */
export class WorkerNode {
  readonly options: ResolvedWorkerOptions
  readonly #app: App
  #state: NodeState = 'new'
  #transport!: Transport
  #backend!: ResultBackend
  #pool!: ThreadPool
  #recorder!: StateRecorder
  #revoked!: RevokedIds
  #control?: Subscription
  readonly #consumers = new Map<string, { consumer: Consumer; credit: number }>()
  /** Tasks taken from a queue and not settled, by id. */
  readonly #active = new Map<string, InFlight>()
  /** Received tasks waiting for a free slot. */
  #waiting: InFlight[] = []
  /** Received tasks waiting for a rate limit. */
  readonly #gate: RateGate
  #processed = 0
  /** Finished tasks by name, for `inspect stats`. */
  readonly #totals = new Map<string, number>()
  /** Rate and time limits set by remote control. */
  readonly #overrides = new TaskOverrides()
  #remote!: RemoteControl
  #startedAt = 0
  #timers: TimerHandle[] = []
  #drained = deferred()
  readonly #stopped = deferred()

  constructor(app: App, options: WorkerOptions = {}) {
    this.#app = app
    this.options = compileWorkerOptions(options, app.conf)
    const node = this
    this.#gate = new RateGate({
      clock: app.clock,
      logger: app.logger,
      get transport() {
        return node.#transport
      },
      nodeIntervalMs: (item) => this.#overrides.rateLimitMs(item.headers.task, item.options.rateLimitIntervalMs),
      running: () => this.#state === 'running',
      proceed: (item) => this.#runOrWait(item),
      released: () => this.#pump(),
    })
  }

  get hostname(): string {
    return this.options.hostname
  }

  /** Tasks this node has finished since it started. */
  get processed(): number {
    return this.#processed
  }

  /** Tasks on this node now: on threads, or received and waiting. */
  get active(): number {
    return this.#active.size
  }

  /** Resolves once the node has stopped, whoever stopped it (a remote `shutdown` too). */
  get stopped(): Promise<void> {
    return this.#stopped.promise
  }

  /** Connects, starts the threads, and begins consuming. Resolves once the node serves. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`worker ${this.hostname} was already started`)
    this.#state = 'starting'
    const app = this.#app
    await app.loadTasks()
    ;[this.#transport, this.#backend] = await Promise.all([app.transport(), app.backend()])
    this.#recorder = new StateRecorder({ backend: this.#backend, transport: this.#transport, hostname: this.hostname, clock: app.clock, logger: app.logger, sendEvents: this.options.sendEvents,
      onReady: (task, state, data) => continueFlow(app.flow, task.headers, state, data).catch((error: unknown) => {
        app.logger.error('could not send what follows a task in its workflow', { id: task.headers.id, error })
        throw error
      }) })
    this.#revoked = await this.#transport.revoked()
    await this.#declareQueues()
    this.#pool = new ThreadPool({
      size: this.options.concurrency,
      perThread: this.options.prefetch,
      modules: app.modules(),
      appName: app.name,
      hostname: this.hostname,
      maxTasksPerChild: this.options.maxTasksPerChild,
      maxMemoryPerChildKb: this.options.maxMemoryPerChild,
      ...(this.options.maxOldGenerationSizeMb ? { resourceLimits: { maxOldGenerationSizeMb: this.options.maxOldGenerationSizeMb } } : {}),
      logger: app.logger,
      events: {
        started: (item) => this.#recorder.apply(item, TaskEventType.START),
        update: (item, state, meta, contentType) => this.#recorder.apply(item, TaskEventType.PROGRESS, { customState: state, result: meta, contentType: contentType as never }),
        outcome: (item, outcome) => this.#outcome(item, outcome),
        lost: (item, error, started) => this.#lost(item, error, started),
        capacity: () => this.#pump(),
      },
    })
    await this.#pool.start()
    this.#startedAt = Date.now()
    this.#remote = new RemoteControl(app, this.#controlled(), this.#overrides)
    this.#control = this.#remote.listen(this.#transport)
    // A node that says it is started answers remote control from then on.
    await this.#control.ready
    for (const queue of this.options.queues) {
      this.#consumers.set(queue, { consumer: this.#transport.consume(queue, (delivery) => this.#receive(queue, delivery)), credit: 0 })
    }
    this.#state = 'running'
    this.#every(Math.max(50, this.options.ackWaitMs / 3), () => this.#extendLeases())
    // Worker events go out whether task events are on or not, as Celery's: heartbeats are how monitors tell live nodes from dead ones.
    this.#workerEvent('worker-online')
    this.#every(this.options.heartbeatMs, () => this.#workerEvent('worker-heartbeat'))
    app.logger.info('worker ready', { hostname: this.hostname, concurrency: this.options.concurrency, queues: this.options.queues })
    this.#pump()
  }

  /**
   * Stops the node. Warm (default): stop consuming, let running tasks finish (up to the
   * shutdown timeout), requeue what never started. Cold: terminate threads now; unacked
   * tasks go back to their queue, acked ones that never started are re-sent.
   */
  async stop(options: { cold?: boolean } = {}): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'new') return
    this.#state = 'stopping'
    await Promise.all([...this.#consumers.values()].map(({ consumer }) => consumer.close()))
    this.#consumers.clear()
    for (const item of this.#waiting) this.#giveBack(item)
    this.#waiting = []
    // Now, while the transport is open: a rate-limit wait may outlast the node.
    this.#gate.drain((item) => this.#giveBack(item))
    if (!options.cold && this.#pool.busy > 0) {
      const timeout = this.#app.clock.setTimeout(() => this.#drained.resolve(), this.options.shutdownTimeoutMs)
      await this.#drained.promise
      this.#app.clock.clearTimeout(timeout)
    }
    await this.#pool.stop()
    for (const timer of this.#timers) this.#app.clock.clearTimeout(timer)
    this.#control?.unsubscribe()
    this.#revoked.close()
    this.#workerEvent('worker-offline')
    this.#state = 'stopped'
    this.#stopped.resolve()
  }

  async #declareQueues(): Promise<void> {
    const declared = new Map(this.#app.conf.taskQueues.map((q) => [q.name, q]))
    for (const name of this.options.queues) {
      const config = declared.get(name)
      if (config?.exchange) {
        await this.#transport.declareExchange({ name: config.exchange, type: config.exchangeType ?? 'direct' })
        await this.#transport.declareQueue({ name, bindings: [{ exchange: config.exchange, key: config.routingKey ?? name }] })
      } else {
        await this.#transport.declareQueue({ name })
      }
    }
  }

  #every(ms: number, fn: () => void): void {
    const clock = this.#app.clock
    const tick = () => {
      if (this.#state !== 'running' && this.#state !== 'stopping') return
      fn()
      this.#timers.push(clock.setTimeout(tick, ms))
    }
    this.#timers.push(clock.setTimeout(tick, ms))
  }

  /** Grants consumers credit for exactly the slots no task is waiting for. */
  #pump(): void {
    if (this.#state !== 'running') {
      if (this.#state === 'stopping' && this.#pool.busy === 0) this.#drained.resolve()
      return
    }
    while (this.#waiting.length > 0 && this.#pool.free > 0) this.#run(this.#waiting.shift()!)
    const want = this.#pool.free - this.#waiting.length - this.#gate.held
    for (const entry of this.#consumers.values()) {
      const grant = want - entry.credit
      if (grant > 0) {
        entry.credit += grant
        entry.consumer.pull(grant)
      }
    }
  }

  #receive(queue: string, delivery: Delivery): void {
    const entry = this.#consumers.get(queue)
    if (entry) entry.credit--
    let headers: TaskHeaders
    try {
      headers = decodeHeaders(delivery.body)
    } catch (error) {
      this.#app.logger.error('dead-lettered an undecodable message', { queue, error })
      delivery.term(`undecodable: ${(error as Error).message}`)
      return this.#pump()
    }
    const definition = this.#app.tasks.get(headers.task)
    if (!definition) {
      const error = new NotRegistered(`task ${headers.task} is not registered on ${this.hostname}: is its module in the app's include list?`)
      this.#app.logger.error('dead-lettered a message for an unregistered task', { task: headers.task, id: headers.id })
      void this.#recorder.apply({ headers, state: TaskState.PENDING }, TaskEventType.FAIL, { error: toWireError(error) })
      delivery.term(`unregistered task ${headers.task}`)
      return this.#pump()
    }
    const options = this.#app.resolvedOptions(definition)
    const item: InFlight = {
      headers, delivery, definition, options, acked: false, slot: -1,
      state: headers.retries > 0 ? TaskState.RETRY : TaskState.PENDING,
      ignoreResult: headers.ignoreResult ?? options.ignoreResult,
    }
    if (this.#revoked.has(headers.id)) return this.#revoke(item, { expired: false })
    const now = this.#app.clock.now()
    if (headers.expires !== undefined && now >= headers.expires) return this.#revoke(item, { expired: true })
    if (headers.eta !== undefined && headers.eta > now) {
      // Early: back to the broker, which holds it until due (never held in this node's memory).
      this.#remote.noteScheduled(headers, delivery)
      delivery.nak(headers.eta - now)
      return this.#pump()
    }
    if (delivery.deliveryCount > 1) return void this.#redelivered(item)
    this.#accept(item)
  }

  /** A message delivered again: run it unless its task already ended (then the copy is refused). */
  async #redelivered(item: InFlight): Promise<void> {
    const stored = await this.#backend.get(item.headers.id)
    if (stored && isReady(stored.state)) {
      this.#app.logger.warn('refused a redelivered task that already ended', { id: item.headers.id, state: stored.state })
      item.delivery.ack()
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
    this.#recorder.apply(item, TaskEventType.RECEIVE)
    this.#active.set(item.headers.id, item)
    if (!item.options.acksLate) {
      item.delivery.ack()
      item.acked = true
    }
    if (this.#app.conf.workerDisableRateLimits) this.#runOrWait(item)
    else this.#gate.admit(item)
  }

  #runOrWait(item: InFlight): void {
    if (this.#state !== 'running') return this.#giveBack(item)
    if (this.#pool.free > 0) this.#run(item)
    else this.#waiting.push(item)
  }

  #run(item: InFlight): void {
    const { headers } = item
    if (this.#revoked.has(headers.id)) return this.#revoke(item, { expired: false })
    // It may have waited for a slot or its rate limit since it was received.
    if (headers.expires !== undefined && this.#app.clock.now() >= headers.expires) return this.#revoke(item, { expired: true })
    const [softMs, hardMs] = headers.timeLimit ?? [null, null]
    const { delivery } = item
    const entry: RunEntry = {
      slot: -1,
      frame: delivery.body,
      queue: delivery.queue,
      exchange: delivery.exchange,
      routingKey: delivery.routingKey,
      priority: delivery.priority,
      redelivered: delivery.deliveryCount > 1,
      reportStart: item.options.trackStarted || this.options.sendEvents,
      ignoreResult: item.ignoreResult ?? false,
      softTimeLimitMs: softMs ?? this.#overrides.softTimeLimitMs(headers.task, item.options.softTimeLimitMs),
    }
    this.#pool.dispatch(item, entry)
    const hard = hardMs ?? this.#overrides.timeLimitMs(headers.task, item.options.timeLimitMs)
    if (hard !== undefined) this.#watch(item, hard)
  }

  /** Arms the hard time limit; the clock starts when the thread starts the task, not when it is queued there. */
  #watch(item: InFlight, limitMs: number, waitMs = limitMs): void {
    item.timer = this.#app.clock.setTimeout(() => {
      if (this.#active.get(item.headers.id) !== item || item.threadId === undefined) return
      const started = this.#pool.startedAt(item)
      const elapsed = started === 0 ? 0 : Date.now() - started
      if (started !== 0 && elapsed >= limitMs) {
        this.#pool.kill(item, new TimeLimitExceeded(`${item.headers.task}[${item.headers.id}] exceeded its hard time limit of ${limitMs / 1000}s and its thread was terminated`))
      } else {
        this.#watch(item, limitMs, started === 0 ? limitMs : limitMs - elapsed)
      }
    }, waitMs)
  }

  #settle(item: InFlight): void {
    if (item.timer !== undefined) this.#app.clock.clearTimeout(item.timer)
    this.#active.delete(item.headers.id)
    this.#processed++
    this.#totals.set(item.headers.task, (this.#totals.get(item.headers.task) ?? 0) + 1)
  }

  /** Acks once the outcome is stored when `acksLate`; early-acked tasks were acked at receipt. */
  #ackAfter(item: InFlight, stored: Promise<void> | undefined): void {
    if (item.acked) return
    item.acked = true
    if (stored) stored.then(() => item.delivery.ack(), () => item.delivery.nak())
    else item.delivery.ack()
  }

  #outcome(item: InFlight, outcome: Outcome): void {
    this.#settle(item)
    const error = outcome.error
    switch (outcome.kind) {
      case OutcomeKind.Success: {
        const next = successors(this.#app.flow, item.headers, outcome.result, outcome.contentType)
        const stored = this.#recorder.apply(item, TaskEventType.SUCCEED, { result: outcome.result, contentType: outcome.contentType, runtimeMs: outcome.runtimeMs, ...(next ? { children: next.children } : {}) })
        return this.#ackAfter(item, next && stored ? Promise.all([stored, next.sent]).then(() => undefined) : stored)
      }
      case OutcomeKind.Failure: {
        const stored = this.#recorder.apply(item, TaskEventType.FAIL, { error, runtimeMs: outcome.runtimeMs })
        if (item.headers.errbacks && error) sendErrbacks(this.#app.flow, item.headers, error)
        return this.#ackAfter(item, stored)
      }
      case OutcomeKind.Retry:
        return void this.#retry(item, outcome.delayMs ?? 0, error)
      case OutcomeKind.Reject:
        if (outcome.requeue) {
          this.#recorder.apply(item, TaskEventType.REQUEUE, { requeue: true })
          return this.#giveBack(item, false)
        }
        this.#recorder.apply(item, TaskEventType.REJECT, { error })
        if (!item.acked) item.delivery.term(`rejected: ${error?.message ?? ''}`)
        return
      case OutcomeKind.Ignore:
        return this.#ackAfter(item, this.#recorder.apply(item, TaskEventType.IGNORE))
    }
  }

  /** Re-sends the task with `retries + 1` after `delayMs`, then records RETRY and acks the original. */
  async #retry(item: InFlight, delayMs: number, error: WireError | undefined): Promise<void> {
    const headers: TaskHeaders = { ...item.headers, retries: item.headers.retries + 1, eta: this.#app.clock.now() + delayMs }
    try {
      await this.#republish(item, headers)
    } catch (cause) {
      this.#app.logger.error('could not re-send a task for retry', { id: headers.id, error: cause })
      return this.#ackAfter(item, this.#recorder.apply(item, TaskEventType.FAIL, { error: toWireError(cause) }))
    }
    this.#ackAfter(item, this.#recorder.apply(item, TaskEventType.RETRY, { error }))
  }

  #republish(item: InFlight, headers: TaskHeaders): Promise<void> {
    const { delivery } = item
    const route = delivery.exchange === '' ? { exchange: '', routingKey: delivery.queue, queue: delivery.queue } : { exchange: delivery.exchange, routingKey: delivery.routingKey }
    return this.#app.publisher.publish(headers, ownBytes(decodeMessage(delivery.body).body), route, `${headers.id}.r${headers.retries}.${delivery.deliveryCount}`)
  }

  /** Puts a task that has not run back in its queue: nak when unacked, re-send when acked early. */
  #giveBack(item: InFlight, settle = true, record = settle): void {
    if (settle) this.#active.delete(item.headers.id)
    if (record) this.#recorder.apply(item, TaskEventType.REQUEUE, { requeue: true })
    if (!item.acked) {
      item.acked = true
      item.delivery.nak()
    } else {
      this.#republish(item, item.headers).catch((error) => this.#app.logger.error('could not requeue a task: it is lost', { id: item.headers.id, error }))
    }
  }

  #revoke(item: InFlight, how: { expired?: boolean; terminated?: boolean }): void {
    this.#settle(item)
    const reason = how.expired ? 'expired' : how.terminated ? 'revoked and terminated' : 'revoked'
    const stored = this.#recorder.apply(item, TaskEventType.REVOKE, { error: toWireError(new TaskRevokedError(`task ${item.headers.task}[${item.headers.id}] ${reason}`)), ...how })
    this.#ackAfter(item, stored)
    this.#pump()
  }

  #lost(item: InFlight, error: Error, started: boolean): void {
    if (item.killedFor instanceof TaskRevokedError) return this.#revoke(item, { terminated: true })
    if (!started && !(error instanceof TimeLimitExceeded)) {
      // It never ran: run it elsewhere (a new thread, or another node when stopping).
      item.threadId = undefined
      return this.#state === 'running' ? this.#runOrWait(item) : this.#giveBack(item)
    }
    if (this.#state === 'stopping' && !item.acked) {
      // A cold stop is chosen, not a crash: an unacked task goes back to its queue.
      this.#settle(item)
      return this.#giveBack(item, false, true)
    }
    if (!(error instanceof TimeLimitExceeded) && item.options.acksLate && item.options.rejectOnWorkerLost && !item.acked) {
      this.#settle(item)
      this.#app.logger.warn('task lost with its thread: requeued (rejectOnWorkerLost)', { id: item.headers.id })
      this.#recorder.apply(item, TaskEventType.REQUEUE, { requeue: true })
      item.acked = true
      item.delivery.nak()
      return
    }
    this.#settle(item)
    const failure = error instanceof TimeLimitExceeded || error instanceof WorkerLostError ? error : new WorkerLostError(error.message, { cause: error })
    const wire = toWireError(failure)
    const stored = this.#recorder.apply(item, TaskEventType.FAIL, { error: wire })
    if (item.headers.errbacks) sendErrbacks(this.#app.flow, item.headers, wire)
    this.#ackAfter(item, stored)
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
      shutdown: () => void this.stop().catch((error) => this.#app.logger.error('remote shutdown failed', { error })),
    }
  }

  async #addConsumer(queue: string): Promise<boolean> {
    if (this.#state !== 'running') throw new Error(`${this.hostname} is ${this.#state}`)
    if (this.#consumers.has(queue)) return false
    const previous = this.options.queues
    this.options.queues = [...previous, queue]
    try {
      await this.#declareQueues()
    } catch (error) {
      this.options.queues = previous
      throw error
    }
    this.#consumers.set(queue, { consumer: this.#transport.consume(queue, (delivery) => this.#receive(queue, delivery)), credit: 0 })
    this.#pump()
    return true
  }

  async #cancelConsumer(queue: string): Promise<boolean> {
    const entry = this.#consumers.get(queue)
    if (!entry) return false
    this.#consumers.delete(queue)
    this.options.queues = this.options.queues.filter((q) => q !== queue)
    await entry.consumer.close()
    return true
  }

  #revokeRunning(ids: string[], terminate: boolean): void {
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
    for (const item of this.#active.values()) if (!item.acked) item.delivery.working()
  }

  #workerEvent(type: 'worker-online' | 'worker-heartbeat' | 'worker-offline'): void {
    sendEvent(this.#transport, {
      type, hostname: this.hostname, timestamp: this.#app.clock.now(), freq: this.options.heartbeatMs / 1000,
      swIdent: 'celeriac', swVer: VERSION, swSys: process.platform, active: this.#active.size, processed: this.#processed,
    })
  }
}
