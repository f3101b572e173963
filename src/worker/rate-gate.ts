/**
 * Where a worker node's received tasks wait for their rate limits: the per-node `rateLimit`
 * (Celery's) and the cluster-wide `globalRateLimit` (through the transport).
 * @module
 */
import { RateLimiter } from '../util/rate-limit.js'
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
 * Holds tasks until their rate limits let them run. Held tasks are counted ({@link held}) so
 * that the node pulls no more than it can run.
 */
export class RateGate {
  readonly #host: RateGateHost
  /** Held tasks, with the timer that ends the wait (none while a cluster slot is being reserved). */
  readonly #held = new Map<InFlight, TimerHandle | undefined>()
  readonly #limiters = new Map<string, RateLimiter>()
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
    if (interval > 0) {
      let limiter = this.#limiters.get(item.headers.task)
      if (!limiter) this.#limiters.set(item.headers.task, (limiter = new RateLimiter(interval, this.#host.clock)))
      else if (limiter.intervalMs !== interval) limiter.setInterval(interval)
      const wait = limiter.reserve()
      if (wait > 0) return this.#hold(item, wait, () => this.#afterNodeLimit(item))
    }
    this.#afterNodeLimit(item)
  }

  /** Ends every wait (the node stops) and hands the held tasks to `giveBack`. */
  drain(giveBack: (item: InFlight) => void): void {
    for (const [item, timer] of this.#held) {
      if (timer !== undefined) this.#host.clock.clearTimeout(timer)
      giveBack(item)
    }
    this.#held.clear()
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
  #afterNodeLimit(item: InFlight): void {
    const global = item.options.globalRateLimitIntervalMs
    if (global > 0 && this.#host.transport.reserveRate !== undefined) this.#reserveGlobal(item, global, 0)
    else this.#host.proceed(item)
  }

  /**
   * Reserves a cluster-wide slot and holds the task until it comes. When the broker cannot
   * answer, the task stays held and the reservation is retried with a backoff, rather than run
   * under a per-node limit: that would let every node run at the full cluster rate exactly when
   * the limit cannot be checked, and the limit usually protects something shared. Nothing is
   * lost meanwhile: an unacked task's lease is extended like any active task's, and a stop gives
   * held tasks back.
   */
  #reserveGlobal(item: InFlight, intervalMs: number, failures: number): void {
    if (!this.#host.running()) return this.#host.proceed(item)
    this.#held.set(item, undefined)
    this.#host.transport.reserveRate!(item.headers.task, intervalMs).then(
      (wait) => {
        if (!this.#held.has(item)) return
        if (wait > 0) this.#hold(item, wait, () => this.#host.proceed(item))
        else this.#release(item, () => this.#host.proceed(item))
      },
      (error: unknown) => {
        if (!this.#held.has(item)) return
        const retryInMs = Math.min(RESERVE_RETRY_MAX_MS, RESERVE_RETRY_MS * 2 ** failures)
        this.#host.logger.warn('could not reserve a cluster-wide rate-limit slot: retrying', { task: item.headers.task, id: item.headers.id, retryInMs, error })
        this.#hold(item, retryInMs, () => this.#reserveGlobal(item, intervalMs, failures + 1))
      },
    )
  }

  /** Holds a task for `ms`, then calls `next`. */
  #hold(item: InFlight, ms: number, next: () => void): void {
    this.#held.set(item, this.#host.clock.setTimeout(() => this.#release(item, next), ms))
  }

  #release(item: InFlight, next: () => void): void {
    // A stop gave it back meanwhile.
    if (!this.#held.delete(item)) return
    next()
    this.#host.released()
  }
}
