import type { InFlight } from './in-flight.js'

/** How often the node looks for early-acked tasks that their threads have started, ms. */
const LOOK_MS = 20

/**
 * Early-acked tasks handed to a thread and not yet acked. Celery acks such a task as it starts,
 * so each is acked once its thread has started it: read from the thread's shared start times
 * every {@link LOOK_MS} ms (as Celery's parent acks when its child reports the task accepted,
 * a hop later), or when the node hears of its start or its end, whichever comes first. Until
 * then the task is the broker's: one waiting behind a task that holds its thread is delivered
 * again if the node dies, and a revoke can still take it back.
 */
export class StartAcks {
  readonly #pending = new Set<InFlight>()
  readonly #startedAt: (item: InFlight) => number
  #timer: ReturnType<typeof setInterval> | undefined

  /** `startedAt`: when the task's thread started it (epoch ms), 0 while it has not. */
  constructor(startedAt: (item: InFlight) => number) {
    this.#startedAt = startedAt
  }

  /** `item` was handed to a thread: acked once started. */
  add(item: InFlight): void {
    this.#pending.add(item)
    this.#timer ??= setInterval(this.sweep, LOOK_MS).unref()
  }

  /** Acks the tasks whose threads have started them. */
  sweep = (): void => {
    for (const item of this.#pending) {
      if (this.#startedAt(item) === 0) continue
      this.#pending.delete(item)
      item.ack()
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }

  /** `item` started or ended: acked now if it was waiting for that. */
  ack(item: InFlight): void {
    if (this.#pending.delete(item)) item.ack()
  }

  /** Stops waiting for `item`'s start without acking it (it goes back to the broker unacked, or is revoked); true if it was waiting. */
  drop(item: InFlight): boolean {
    return this.#pending.delete(item)
  }
}
