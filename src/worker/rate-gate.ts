/**
 * Where a worker node's received tasks wait for their rate limits: the per-node `rateLimit`
 * (Celery's) and the cluster-wide `globalRateLimit` (through the transport).
 * @module
 */
import type { InFlight } from './in-flight.js'
import type { Transport } from '../transport/transport.js'
import type { Clock, TimerHandle } from '../util/clock.js'
import type { Logger } from '../util/logger.js'

// Backoff of a cluster-wide rate-limit reservation the broker could not answer, ms.
const RESERVE_RETRY_MS = 100
const RESERVE_RETRY_MAX_MS = 5_000

/** What the gate needs from its node. */
export interface RateGateHost {
  clock: Clock
  logger: Logger
  transport: Transport
  /** The task's per-node interval now (remote control may have changed it), ms; 0 = none. */
  nodeIntervalMs(item: InFlight): number
  /** False once the node is stopping: a task then goes on at once (to be given back). */
  running(): boolean
  /** The task's limits let it run now (or wait for a thread). */
  proceed(item: InFlight): void
  /** A held task went on: the node may pull again. */
  released(): void
}

/**
 * The tasks of one name under a per-node limit, in arrival order. One at a time goes through
 * (its node slot, then its cluster slot if it has one), and the next one's node slot counts
 * from when that one actually went on: a cluster slot that came late cannot shorten the node's
 * spacing, as it could when node slots were handed out ahead.
 */
interface Lane {
  intervalMs: number
  /** When the last task of the lane went on (clock ms); -Infinity before the first. */
  lastStart: number
  readonly waiting: InFlight[]
  /** A task of the lane is on its way through (its node wait, or its cluster slot). */
  busy: boolean
}

/**
 * Holds tasks until their rate limits let them run. Held tasks are counted ({@link held}) so
 * that the node pulls no more than it can run.
 */
export class RateGate {
  readonly #host: RateGateHost
  /** Held tasks, with the timer that ends the wait (none while waiting in a lane or for a cluster slot). */
  readonly #held = new Map<InFlight, TimerHandle | undefined>()
  readonly #lanes = new Map<string, Lane>()
  #warnedNoGlobalLimit = false

  constructor(host: RateGateHost) {
    this.#host = host
  }

  /** How many tasks wait for a rate limit. */
  get held(): number {
    return this.#held.size
  }

  /** Lets the task through now, or once its limits allow: `host.proceed(item)` either way. */
  admit(item: InFlight): void {
    const interval = this.#nodeInterval(item)
    if (interval <= 0) return this.#afterNodeLimit(item, undefined)
    let lane = this.#lanes.get(item.headers.task)
    if (lane === undefined) this.#lanes.set(item.headers.task, (lane = { intervalMs: interval, lastStart: -Infinity, waiting: [], busy: false }))
    // Remote control may have changed it: the next node slot counts with the new interval.
    lane.intervalMs = interval
    this.#held.set(item, undefined)
    lane.waiting.push(item)
    if (!lane.busy) this.#nextInLane(lane)
  }

  /** Ends every wait (the node stops) and hands the held tasks to `giveBack`. */
  drain(giveBack: (item: InFlight) => void): void {
    for (const [item, timer] of this.#held) {
      if (timer !== undefined) this.#host.clock.clearTimeout(timer)
      giveBack(item)
    }
    this.#held.clear()
    this.#lanes.clear()
  }

  /** Sends the lane's next task through once its node slot has come. */
  #nextInLane(lane: Lane): void {
    const item = lane.waiting.shift()
    if (item === undefined) {
      lane.busy = false
      return
    }
    lane.busy = true
    const wait = lane.lastStart + lane.intervalMs - this.#host.clock.now()
    if (wait > 0) this.#held.set(item, this.#host.clock.setTimeout(() => this.#afterNodeLimit(item, lane), wait))
    else this.#afterNodeLimit(item, lane)
  }

  /** The task goes on: its lane's clock starts now, and the lane's next task may come through. */
  #proceed(item: InFlight, lane: Lane | undefined): void {
    // Most nodes hold nothing: a lookup would give the task an identity hash for nothing.
    const held = this.#held.size !== 0 && this.#held.delete(item)
    if (lane !== undefined) lane.lastStart = this.#host.clock.now()
    this.#host.proceed(item)
    if (held) this.#host.released()
    if (lane !== undefined) this.#nextInLane(lane)
  }

  /** The per-node interval of a task; a cluster-wide limit the transport cannot share becomes per-node. */
  #nodeInterval(item: InFlight): number {
    const interval = this.#host.nodeIntervalMs(item)
    const global = item.options.globalRateLimitIntervalMs
    const { transport } = this.#host
    if (global === 0 || transport.reserveRate !== undefined) return interval
    if (!this.#warnedNoGlobalLimit) {
      this.#warnedNoGlobalLimit = true
      this.#host.logger.warn('the transport cannot share a rate limit between nodes: globalRateLimit is enforced per node', { transport: transport.kind, task: item.headers.task })
    }
    return Math.max(interval, global)
  }

  /**
   * Takes the task's cluster-wide slot, if it has a limit, once its node slot has come: a
   * cluster slot taken earlier and then left waiting for the node's limit would be used late,
   * crowding the slots after it, so the cluster-wide spacing holds exactly this way.
   */
  #afterNodeLimit(item: InFlight, lane: Lane | undefined): void {
    // A stop gave it back meanwhile.
    if (lane !== undefined && !this.#held.has(item)) return
    const global = item.options.globalRateLimitIntervalMs
    if (global > 0 && this.#host.transport.reserveRate !== undefined) this.#reserveGlobal(item, lane, global, 0)
    else this.#proceed(item, lane)
  }

  /**
   * Reserves a cluster-wide slot and holds the task until it comes. When the broker cannot
   * answer, the task stays held and the reservation is retried with a backoff, rather than run
   * under a per-node limit: that would let every node run at the full cluster rate exactly when
   * the limit cannot be checked, and the limit usually protects something shared. Nothing is
   * lost meanwhile: an unacked task's lease is extended like any active task's, and a stop gives
   * held tasks back.
   */
  #reserveGlobal(item: InFlight, lane: Lane | undefined, intervalMs: number, failures: number): void {
    if (!this.#host.running()) return this.#proceed(item, lane)
    this.#held.set(item, undefined)
    this.#host.transport.reserveRate!(item.headers.task, intervalMs).then(
      (wait) => {
        if (!this.#held.has(item)) return
        if (wait > 0) this.#hold(item, wait, () => this.#proceed(item, lane))
        else this.#proceed(item, lane)
      },
      (error: unknown) => {
        if (!this.#held.has(item)) return
        const retryInMs = Math.min(RESERVE_RETRY_MAX_MS, RESERVE_RETRY_MS * 2 ** failures)
        this.#host.logger.warn('could not reserve a cluster-wide rate-limit slot: retrying', { task: item.headers.task, id: item.headers.id, retryInMs, error })
        this.#hold(item, retryInMs, () => this.#reserveGlobal(item, lane, intervalMs, failures + 1))
      },
    )
  }

  /** Holds a task for `ms`, then calls `next` (unless a stop gave it back meanwhile). */
  #hold(item: InFlight, ms: number, next: () => void): void {
    this.#held.set(item, this.#host.clock.setTimeout(() => {
      if (this.#held.has(item)) next()
    }, ms))
  }
}
