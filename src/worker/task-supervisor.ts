/**
 * The life of a task on a worker node, from the delivery its consumer hands over to its last
 * recorded state: checks at receipt, the wait for a rate limit or a slot, the hand-off to a
 * thread, the hard time limit, and what each outcome (or a lost thread) records and acks.
 * The node around it starts and stops things; this is what it does while it serves.
 * @module
 */
import { NotRegistered, TaskRevokedError, TimeLimitExceeded, WorkerLostError } from '../errors.js'
import { decodeHeaders, decodeMessage, type TaskHeaders } from '../protocol/envelope.js'
import { InvalidMessageError } from '../protocol/validate-envelope.js'
import { OutcomeKind, type Outcome, type RunEntry } from '../protocol/thread-batch.js'
import { lifecycle, TaskEventType } from '../lifecycle/task-machine.js'
import { WorkerState } from '../lifecycle/worker-machine.js'
import { isReady, TaskState } from '../lifecycle/states.js'
import { ownBytes } from '../serialization/codec.js'
import { toWireError, type WireError } from '../serialization/failure.js'
import { nextStepUnsent, sendErrbacks, successors } from '../canvas/flow.js'
import { toMs } from '../util/duration.js'
import { deliveredTooOften } from '../transport/defaults.js'
import { deliveryLimit, requeueMsgId } from './requeue.js'
import { InFlight, storingTask } from './in-flight.js'
import { StartAcks } from './start-acks.js'
import { TaskLog } from './task-log.js'
import { RateGate } from './rate-gate.js'
import { ReasonLog } from './reason-log.js'
import type { PoolEvents, ThreadPool } from './pool/thread-pool.js'
import type { StateRecorder } from './state-recorder.js'
import type { TaskOverrides } from './remote-control.js'
import type { ResolvedWorkerOptions } from './worker-options.js'
import type { WorkerDeps } from './worker-deps.js'
import type { TaskEnd, WorkerObserver } from './worker-observer.js'
import type { Delivery, RevokedIds, Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'

// A redelivered task whose stored state could not be read comes back after this long, ms.
const REDELIVERY_CHECK_RETRY_MS = 1_000

/** What each outcome kind means to an observer. */
const ENDS = ['succeeded', 'failed', 'retried', 'rejected', 'ignored'] as const satisfies Record<OutcomeKind, TaskEnd>

/** What a {@link TaskSupervisor} needs from its node. */
export interface SupervisedNode {
  readonly hostname: string
  readonly deps: WorkerDeps
  readonly options: ResolvedWorkerOptions
  /** Rate and time limits set by remote control. */
  readonly overrides: TaskOverrides
  /** Where the node is in its lifecycle. */
  state(): WorkerState
  /** A slot may have freed, or a task stopped waiting: the node grants its consumers credit. */
  pump(): void
  /** A task came before its eta and went back to the broker to wait (for `inspect scheduled`). */
  scheduled(headers: TaskHeaders, delivery: Delivery): void
}

/** What the node makes as it starts, for the supervisor to work with. */
export interface SupervisorParts {
  readonly transport: Transport
  readonly backend: ResultBackend
  readonly recorder: StateRecorder
  readonly revoked: RevokedIds
  readonly pool: ThreadPool
}

/**
 * Supervises the tasks a node takes from its queues until each is settled: it records every
 * state change through the lifecycle machine, and nothing a task or a thread does escapes it
 * (see {@link PoolEvents}, which it answers).
 */
export class TaskSupervisor {
  /** Metrics and traces; undefined when both are off, so the hot path pays one `?.`. */
  observer: WorkerObserver | undefined
  /** The thread pool's events, each guarded (see #guard). */
  readonly events: PoolEvents
  readonly #node: SupervisedNode
  readonly #deps: WorkerDeps
  // Given by attach(), as the node starts.
  #transport!: Transport
  #backend!: ResultBackend
  #recorder!: StateRecorder
  #revoked!: RevokedIds
  #pool!: ThreadPool
  /** Tasks taken from a queue and not settled, by id. */
  readonly #active = new Map<string, InFlight>()
  /** Received tasks waiting for a free slot. */
  #waiting: InFlight[] = []
  /** Received tasks waiting for a rate limit. */
  readonly #gate: RateGate
  #processed = 0
  /** Finished tasks by name, for `inspect stats`. */
  readonly #totals = new Map<string, number>()
  readonly #reasons: ReasonLog
  /** Task names already reported for holding a thread (see #held). */
  readonly #heldBy = new Set<string>()
  /** Early-acked tasks on threads, acked as their threads start them (see StartAcks). */
  readonly #startAcks = new StartAcks((item) => this.#pool.startedAt(item))
  readonly #log: TaskLog
  /** What became of the tasks on threads terminated by the node's stop: logged once, as the node stops. */
  readonly stopped: { requeued: number; failed: number; how: string } = { requeued: 0, failed: 0, how: 'cold' }

  constructor(node: SupervisedNode) {
    this.#node = node
    this.#deps = node.deps
    this.#reasons = new ReasonLog(node.deps.logger, node.deps.clock)
    this.#log = new TaskLog(node.deps.logger, (item) => this.#about(item))
    const self = this
    this.#gate = new RateGate({
      clock: node.deps.clock,
      logger: node.deps.logger,
      get transport() {
        return self.#transport
      },
      nodeIntervalMs: (item) => node.overrides.rateLimitMs(item.headers.task, item.options.rateLimitIntervalMs),
      running: () => node.state() === WorkerState.RUNNING,
      proceed: (item) => this.#runOrWait(item),
      released: () => node.pump(),
    })
    // Each runs in a thread's message handler: a throw there would end the process, so none
    // can escape (see #guard).
    this.events = {
      started: (item) => this.#guard(item, 'its start', () => this.#started(item)),
      update: (item, state, meta, contentType) => this.#guard(item, 'a state it reported', () => void this.#recorder.apply(item, TaskEventType.PROGRESS, { customState: state, result: meta, contentType: contentType as never })),
      outcome: (item, outcome) => this.#guard(item, 'its outcome', () => (this.observer ? this.observer.within(item, () => this.#outcome(item, outcome)) : this.#outcome(item, outcome))),
      lost: (item, error, started, runtimeMs) => this.#guard(item, 'the loss of its thread', () => this.#lost(item, error, started, runtimeMs)),
      capacity: () => this.#guard(undefined, 'a free slot', () => node.pump()),
      replaced: (reason) => this.observer?.threadReplaced(reason),
      held: (threadId, ms, holder) => this.#held(threadId, ms, holder),
    }
  }

  /** Hands over what the node made as it started; nothing is received before. */
  attach(parts: SupervisorParts): void {
    this.#transport = parts.transport
    this.#backend = parts.backend
    this.#recorder = parts.recorder
    this.#revoked = parts.revoked
    this.#pool = parts.pool
  }

  /** Tasks taken from a queue and not settled: on threads, or received and waiting. */
  get active(): ReadonlyMap<string, InFlight> {
    return this.#active
  }

  /** Tasks settled since the node started. */
  get processed(): number {
    return this.#processed
  }

  /** Settled tasks by name, for `inspect stats`. */
  get totals(): ReadonlyMap<string, number> {
    return this.#totals
  }

  /** Tasks waiting for a rate limit. */
  get rateLimited(): number {
    return this.#gate.held
  }

  /**
   * Starts waiting tasks while threads have free slots; returns the slots left that no task
   * waits for (negative when more wait than are free), which is what the node may pull.
   */
  fill(): number {
    while (this.#waiting.length > 0 && this.#pool.free > 0) this.#run(this.#waiting.shift()!)
    return this.#pool.free - this.#waiting.length - this.#gate.held
  }

  /** The node stops consuming: what waits for a slot or a rate limit goes back to its queue. */
  giveBackWaiting(): void {
    for (const item of this.#waiting) this.#giveBack(item)
    this.#waiting = []
    // Now, while the transport is open: a rate-limit wait may outlast the node.
    this.#gate.drain((item) => this.#giveBack(item))
  }

  /** Tells the broker every unsettled task is still being worked on. */
  extendLeases(): void {
    for (const item of this.#active.values()) item.working()
  }

  /** A delivery from `queue`. What fails here dead-letters the message; nothing is thrown. */
  receive(queue: string, delivery: Delivery): void {
    try {
      this.#take(queue, delivery)
    } catch (error) {
      // A bug, or a message that got past every check: it goes to the dead letters, not round again.
      this.#deadLetter(delivery, `could not handle the message: ${(error as Error)?.message ?? String(error)}`, { queue })
      for (const [id, item] of this.#active) {
        if (item.delivery === delivery) this.#active.delete(id)
      }
      this.#guard(undefined, 'a free slot', () => this.#node.pump())
    }
  }

  /** Revokes `ids` here (remote control): those waiting end now, running ones too when `terminate`. */
  revoke(ids: string[], terminate: boolean): void {
    // The broadcast may come before the stored revocations reach this node's view: counted now,
    // so the node refuses them and lists them (inspect revoked) from this moment.
    const until = this.#deps.clock.now() + toMs(this.#deps.conf.workerRevokeExpires, 'config.workerRevokeExpires')
    for (const id of ids) this.#revoked.note(id, until)
    for (const id of ids) {
      const item = this.#active.get(id)
      if (!item) continue
      if (item.threadId !== undefined && terminate) this.#pool.kill(item, () => new TaskRevokedError(`task ${id} revoked and terminated`))
      else if (item.threadId !== undefined && this.#pool.takeBack(item)) {
        // On a thread but not started (it waits behind a task that holds the thread): never
        // runs. Still unacked: acked once REVOKED is stored, as a revoke found at receipt is.
        this.#startAcks.drop(item)
        this.#revoke(item, {})
        continue
      }
      const waiting = this.#waiting.indexOf(item)
      if (waiting !== -1) {
        this.#waiting.splice(waiting, 1)
        this.#revoke(item, {})
      }
    }
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
      this.#deps.logger.error(`could not handle ${what}`, { hostname: this.#node.hostname, ...(item ? this.#about(item) : {}), error })
      if (item) this.#fail(item, error)
    }
  }

  /** Fails `item` with `error`, whatever state it was left in by what threw. */
  #fail(item: InFlight, error: unknown): void {
    if (this.#active.get(item.headers.id) === item) this.#settle(item)
    this.observer?.ended(item, 'failed', undefined, error instanceof Error ? error : undefined)
    try {
      item.ackWhen(this.#recorder.apply(item, TaskEventType.FAIL, { error: toWireError(error) }))
    } catch (cause) {
      this.#deps.logger.error('could not record a task failure', { ...this.#about(item), error: cause })
      item.term(`could not handle the task: ${(error as Error)?.message ?? String(error)}`)
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
      const invalid = error instanceof InvalidMessageError
      this.#deadLetter(delivery, invalid ? message : `undecodable: ${message}`, { queue, ...(invalid ? error.task : {}) })
      return this.#node.pump()
    }
    const definition = deps.tasks.get(headers.task)
    if (!definition) {
      const error = new NotRegistered(`task ${headers.task} is not registered on ${this.#node.hostname}: is its module in the app's include list?`)
      this.#deadLetter(delivery, `unregistered task ${headers.task}`, { queue, id: headers.id })
      void this.#recorder.apply({ headers, state: TaskState.PENDING }, TaskEventType.FAIL, { error: toWireError(error) })
      return this.#node.pump()
    }
    // A message this node still holds, handed out again (its ack wait ran out while the broker
    // was down): the run here goes on and settles the new delivery, instead of a second run.
    if (delivery.deliveryCount > 1 && (this.#active.get(headers.id) ?? storingTask(headers.id))?.adopt(delivery)) return this.#node.pump()
    const item = new InFlight(headers, delivery, definition, deps.resolvedOptions(definition))
    if (item.earlierDeliveries > 0 && item.deliveries > deliveryLimit(deps.conf, delivery.queue)) {
      // A copy a node requeued after the queue's last allowed delivery (see #reject).
      this.#deadLetter(delivery, deliveredTooOften(item.deliveries - 1), { queue, id: headers.id, task: headers.task })
      return this.#node.pump()
    }
    if (this.#revoked.has(headers.id)) return this.#revoke(item, { expired: false })
    // Read only for a task with a time to check against: most have none.
    const now = headers.expires === undefined && headers.eta === undefined ? 0 : deps.clock.now()
    if (headers.expires !== undefined && now >= headers.expires) return this.#revoke(item, { expired: true })
    if (headers.eta !== undefined && headers.eta > now) {
      // Early: back to the broker, which holds it until due (never held in this node's memory).
      this.#node.scheduled(headers, delivery)
      item.nak(headers.eta - now)
      return this.#node.pump()
    }
    if (delivery.deliveryCount > 1) {
      return void this.#redelivered(item).catch((error: unknown) => {
        // The backend could not tell whether it already ran: try again later rather than guess.
        deps.logger.warn('could not check a redelivered task; it comes back later', { ...this.#about(item), error })
        this.#active.delete(headers.id)
        item.nak(REDELIVERY_CHECK_RETRY_MS)
        this.#guard(undefined, 'a free slot', () => this.#node.pump())
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
      return this.#node.pump()
    }
    if (stored) {
      item.state = lifecycle.machineState(stored.state)
      // The node that held it is gone: the broker put it back in the queue.
      if (item.state === TaskState.RECEIVED || item.state === TaskState.STARTED) this.#recorder.apply(item, TaskEventType.REQUEUE)
    }
    this.#accept(item)
  }

  #accept(item: InFlight): void {
    this.observer?.received(item, this.#deps.clock.now())
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
    this.#log.received(item)
  }

  #runOrWait(item: InFlight): void {
    if (this.#node.state() !== WorkerState.RUNNING) return this.#giveBack(item)
    if (this.#pool.free > 0) this.#run(item)
    else this.#waiting.push(item)
  }

  #run(item: InFlight): void {
    const { headers } = item
    if (this.#revoked.has(headers.id)) return this.#revoke(item, { expired: false })
    // It may have waited for a slot or its rate limit since it was received.
    if (headers.expires !== undefined && this.#deps.clock.now() >= headers.expires) return this.#revoke(item, { expired: true })
    const overrides = this.#node.overrides
    const [softMs, hardMs] = headers.timeLimit ?? [null, null]
    item.hardLimitMs = hardMs ?? overrides.timeLimitMs(headers.task, item.options.timeLimitMs)
    item.recordStart = item.options.trackStarted || this.#node.options.sendEvents
    const { delivery } = item
    const entry: RunEntry = {
      slot: -1,
      frame: delivery.body,
      queue: delivery.queue,
      exchange: delivery.exchange,
      routingKey: delivery.routingKey,
      priority: delivery.priority,
      redelivered: item.deliveries > 1,
      // A hard limit counts from the start report (see #started), so a limited task always sends one.
      reportStart: item.recordStart || item.hardLimitMs !== undefined,
      // The thread drops the return value only when nothing takes it: `ignoreResult` means it is
      // not stored, yet link callbacks and the chain's next step still get it, as in Celery.
      ignoreResult: item.ignoreResult === true && item.headers.callbacks === undefined && item.headers.chain === undefined,
      softTimeLimitMs: softMs ?? overrides.softTimeLimitMs(headers.task, item.options.softTimeLimitMs),
    }
    if (this.observer) {
      // Set only when traced: entries keep one shape on the hot path.
      const trace = this.observer.started(item)
      if (trace !== undefined) entry.trace = trace
    }
    try {
      this.#pool.dispatch(item, entry)
    } catch (error) {
      this.#deps.logger.error('could not hand a task to a thread', { ...this.#about(item), error })
      return this.#fail(item, error)
    }
    // Acked early as it starts, as Celery acks (see StartAcks): a task reserved here (waiting
    // for a slot, its rate limit, or a thread a task holds) is still the broker's.
    if (!item.options.acksLate) this.#startAcks.add(item)
  }

  /**
   * The tasks taken and not settled, with when each started (0: not yet), for remote control.
   * A thread writes its start time while we look, so each is read once, and only then are the
   * started ones acked: a listing never shows a started early-acked task as unacknowledged.
   */
  listed(): [InFlight, number][] {
    const listed = [...this.#active.values()].map((item): [InFlight, number] => [item, item.threadId === undefined ? 0 : this.#pool.startedAt(item)])
    this.#startAcks.sweep()
    return listed
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
    this.#startAcks.ack(item)
    if (item.hardLimitMs !== undefined) this.#watch(item, item.hardLimitMs)
    if (item.recordStart) this.#recorder.apply(item, TaskEventType.START)
  }

  /** Terminates the thread running `item` once it has run for `limitMs`. */
  #watch(item: InFlight, limitMs: number): void {
    this.#disarm(item)
    item.timer = this.#deps.clock.setTimeout(() => {
      item.timer = undefined
      if (this.#active.get(item.headers.id) !== item) return
      const exceeded = `${item.headers.task}[${item.headers.id}] exceeded its hard time limit of ${limitMs / 1000}s`
      this.#pool.kill(item, (terminated) => new TimeLimitExceeded(terminated ? `${exceeded} and its thread was terminated` : `${exceeded} and was let go: its thread takes no new task and ends, with the task's code, once its other tasks have`))
    }, limitMs)
  }

  #disarm(item: InFlight): void {
    if (item.timer === undefined) return
    this.#deps.clock.clearTimeout(item.timer)
    item.timer = undefined
  }

  #settle(item: InFlight): void {
    // It ran (or ends without running): an early-acked task is acked now, as it would have been at its start.
    this.#startAcks.ack(item)
    this.#disarm(item)
    this.#active.delete(item.headers.id)
    this.#processed++
    this.#totals.set(item.headers.task, (this.#totals.get(item.headers.task) ?? 0) + 1)
  }

  #outcome(item: InFlight, outcome: Outcome): void {
    this.#settle(item)
    const error = outcome.error
    this.observer?.ended(item, ENDS[outcome.kind], outcome.runtimeMs, error)
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
        this.#log.succeeded(item, outcome.runtimeMs, outcome.result, outcome.contentType)
        const sent = next?.sent.catch((cause: unknown) => nextStepUnsent(this.#deps.flow, item.headers, cause, item.options.acksLate))
        const children = next === undefined ? outcome.children : outcome.children === undefined ? next.children : [...outcome.children, ...next.children]
        const stored = this.#recorder.apply(item, TaskEventType.SUCCEED, { result: outcome.result, contentType: outcome.contentType, runtimeMs: outcome.runtimeMs, ...(children ? { children } : {}) })
        // Early-acked tasks were acked at receipt: ackWhen does nothing for them.
        item.ackWhen(sent === undefined ? stored : stored === undefined ? sent : Promise.all([stored, sent]).then(() => undefined))
        return
      }
      case OutcomeKind.Failure: {
        this.#log.raised(item, error, outcome.runtimeMs)
        const stored = this.#recorder.apply(item, TaskEventType.FAIL, { error, runtimeMs: outcome.runtimeMs, ...(outcome.children ? { children: outcome.children } : {}) })
        if (item.headers.errbacks && error) sendErrbacks(this.#deps.flow, item.headers, error)
        item.ackWhen(stored)
        return
      }
      case OutcomeKind.Retry:
        this.#log.retry(item, outcome.delayMs ?? 0, error)
        return void this.#retry(item, outcome.delayMs ?? 0, error)
      case OutcomeKind.Reject:
        return this.#reject(item, error, outcome.requeue === true)
      case OutcomeKind.Ignore:
        this.#log.ignored(item)
        item.ackWhen(this.#recorder.apply(item, TaskEventType.IGNORE))
        return
    }
  }

  /**
   * The task raised Reject: dead-lettered, or back in its queue when it asks (`requeue`). Asked
   * on its queue's last allowed delivery, it is dead-lettered instead (max-deliveries) and
   * REJECTED, acked late or early: a node requeues an early-acked task itself (requeue.ts),
   * and the broker's limit alone would not end that loop.
   */
  #reject(item: InFlight, error: WireError | undefined, requeue: boolean): void {
    const deliveries = item.deliveries
    const exhausted = requeue && deliveries >= deliveryLimit(this.#deps.conf, item.delivery.queue)
    const reason = exhausted ? deliveredTooOften(deliveries) : undefined
    if (requeue && !exhausted) {
      this.#log.rejected(item, error, 'requeued')
      this.#recorder.apply(item, TaskEventType.REQUEUE, { requeue: true })
      return this.#giveBack(item, false)
    }
    const rejected = error && reason ? { ...error, message: `${error.message} (${reason})` } : error
    this.#recorder.apply(item, TaskEventType.REJECT, { error: rejected })
    const termed = item.term(reason ?? `rejected: ${error?.message ?? ''}`)
    if (reason === undefined) {
      // As Celery's: a task acked as it started is no longer the broker's, so there is no
      // message left to dead-letter; its REJECTED record is what remains.
      return this.#log.rejected(item, error, termed ? 'dead-lettered' : 'not dead-lettered: it was acked as it started, and only a task with acksLate is')
    }
    this.#log.rejected(item, error, `dead-lettered, ${reason}`)
    if (termed) return
    // Acked as it started: its last copy goes out for the node that takes it to dead-letter (see #take).
    this.#giveBack(item, false, false)
  }

  /** Re-sends the task with `retries + 1` after `delayMs`, then records RETRY and acks the original. */
  async #retry(item: InFlight, delayMs: number, error: WireError | undefined): Promise<void> {
    const headers: TaskHeaders = { ...item.headers, retries: item.headers.retries + 1, eta: this.#deps.clock.now() + delayMs }
    try {
      await this.#republish(item, headers, `${headers.id}.r${headers.retries}.${item.deliveries}`)
    } catch (cause) {
      this.#deps.logger.error('could not re-send a task for retry', { ...this.#about(item), error: cause })
      item.ackWhen(this.#recorder.apply(item, TaskEventType.FAIL, { error: toWireError(cause) }))
      return
    }
    item.ackWhen(this.#recorder.apply(item, TaskEventType.RETRY, { error }))
  }

  #republish(item: InFlight, headers: TaskHeaders, msgId: string): Promise<string> {
    const { delivery } = item
    const route = delivery.exchange === '' ? { exchange: '', routingKey: delivery.queue, queue: delivery.queue } : { exchange: delivery.exchange, routingKey: delivery.routingKey }
    return this.#deps.publisher.publish(headers, ownBytes(decodeMessage(delivery.body).body), route, msgId)
  }

  /** Puts a task that has not run back in its queue: nak when unacked, re-send when acked early. */
  #giveBack(item: InFlight, settle = true, record = settle): void {
    if (settle) this.#active.delete(item.headers.id)
    if (record) this.#recorder.apply(item, TaskEventType.REQUEUE, { requeue: true })
    if (item.nak()) return
    item.resend(() => this.#republish(item, item.headers, requeueMsgId(item.headers, item.deliveries)))
      ?.catch((error: unknown) => this.#deps.logger.error('could not requeue a task: it is lost', { ...this.#about(item), error }))
  }

  #revoke(item: InFlight, how: { expired?: boolean; terminated?: boolean }): void {
    this.#settle(item)
    this.observer?.ended(item, 'revoked', undefined, undefined)
    const reason = how.expired ? 'expired' : how.terminated ? 'revoked and terminated' : 'revoked'
    // As Celery's: an expired task joins the revoked ids (inspect revoked lists it).
    if (how.expired) this.#revoked.note(item.headers.id, this.#deps.clock.now() + toMs(this.#deps.conf.workerRevokeExpires, 'config.workerRevokeExpires'))
    this.#log.revoked(item, reason, how.terminated === true)
    const stored = this.#recorder.apply(item, TaskEventType.REVOKE, { error: toWireError(new TaskRevokedError(`task ${item.headers.task}[${item.headers.id}] ${reason}`)), ...how })
    item.ackWhen(stored)
    this.#node.pump()
  }

  /**
   * A task has held its thread's event loop for `ms`. With several tasks per thread, the ones
   * already on it wait (new ones go elsewhere). Logged once per task name: a queue of CPU-bound
   * tasks gives one line, not one per task.
   */
  #held(threadId: number, ms: number, holder: InFlight | undefined): void {
    if (this.#node.options.tasksPerThread === 1) return
    const task = holder?.headers.task ?? ''
    if (this.#heldBy.has(task) || this.#heldBy.size >= 1_000) return
    this.#heldBy.add(task)
    this.#deps.logger.warn(`${task === '' ? 'a task' : `task ${task}`} held its worker thread for ${(ms / 1000).toFixed(1)} s: the tasks already on that thread waited for it. Run CPU-bound tasks on a queue of their own, served by a worker with --tasks-per-thread 1`, { hostname: this.#node.hostname, threadId, ...(holder ? this.#about(holder) : {}) })
  }

  #lost(item: InFlight, error: Error, started: boolean, runtimeMs: number | undefined): void {
    if (item.killedFor instanceof TaskRevokedError) return this.#revoke(item, { terminated: true })
    const state = this.#node.state()
    const stopping = state === WorkerState.STOPPING
    // Started and not yet acked (early): it was the node's, as if acked at its start. Never
    // started: still the broker's, given back unacked (nakked) below.
    if (this.#startAcks.drop(item) && started) item.ack()
    if (!started && !(error instanceof TimeLimitExceeded)) {
      // It never ran: run it elsewhere (a new thread, or another node when stopping). Its
      // limit counts again from its next start (a start report may have come before its thread died).
      item.threadId = undefined
      this.#disarm(item)
      if (state === WorkerState.RUNNING) return this.#runOrWait(item)
      if (stopping) this.stopped.requeued++
      return this.#giveBack(item)
    }
    if (stopping && !item.settled) {
      // A cold stop is chosen, not a crash: an unacked task goes back to its queue.
      this.stopped.requeued++
      this.#settle(item)
      return this.#giveBack(item, false, true)
    }
    if (stopping) {
      // Acked as it started (acksLate is off): Celery's at-most-once. It may have done part of
      // its work, so it does not run again; whoever waits on it is told why.
      this.stopped.failed++
      error = new WorkerLostError(`${item.headers.task}[${item.headers.id}] was still running when worker ${this.#node.hostname} stopped ${this.stopped.how}; it was acked as it started (acksLate is off), so it does not run again`)
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
    this.observer?.ended(item, 'failed', runtimeMs, failure)
    const wire = toWireError(failure)
    this.#log.raised(item, wire, runtimeMs)
    const stored = this.#recorder.apply(item, TaskEventType.FAIL, { error: wire, ...(runtimeMs === undefined ? {} : { runtimeMs }) })
    if (item.headers.errbacks) sendErrbacks(this.#deps.flow, item.headers, wire)
    item.ackWhen(stored)
  }

  /** The fields of a log line about a task: its id and name, and its trace and span when traced. */
  #about(item: InFlight): Record<string, unknown> {
    return { id: item.headers.id, task: item.headers.task, ...this.observer?.logFields(item) }
  }
}
