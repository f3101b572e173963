/**
 * How many tasks a node reserves beyond its free slots: as many as it expects to start within
 * `horizonMs`, judged by how fast it finished tasks lately.
 *
 * @remarks
 * With exact credit a slot that frees stays empty for a broker round trip: the pull for it goes
 * out only then. For short tasks that round trip is most of a slot's time. A 2-core node on
 * NATS running no-op tasks spent about half its samples with every slot empty, waiting for its
 * next pull, and each of its two threads finished 32 tasks before the next 32 arrived (scratch:
 * busy slots sampled every millisecond over 20,000 warm tasks, 64 then 0 then 64). A few tasks
 * pulled ahead fill each freed slot at once.
 *
 * Celery's prefetch multiplier reserves a fixed number per process whatever the task takes, and
 * its users find long tasks stuck behind long tasks on a busy worker while another sits idle.
 * Here the reservation follows the task time: a reserved task waits for a slot about
 * `horizonMs` at most, so a node running 20 ms tasks in 64 slots (3,200 a second) reserves 32
 * with the default 10 ms, one running 1-second tasks reserves none, and an idle node, which
 * finished nothing lately, reserves nothing until it has. Never more than `cap` (the node's
 * slots). A reserved task is not acked until it starts: if its node dies it is delivered again.
 */
export class Lookahead {
  readonly horizonMs: number
  readonly cap: number
  #count = 0
  #finished = 0
  #at = 0

  constructor(horizonMs: number, cap: number) {
    this.horizonMs = horizonMs
    this.cap = cap
  }

  /** Tasks to reserve beyond the free slots now. */
  get count(): number {
    return this.#count
  }

  /**
   * Takes the node's count of finished tasks at `now` (ms) and sets the reservation from the
   * rate since the last sample. Answers whether the reservation grew (so the node can pull).
   */
  sample(finished: number, now: number): boolean {
    const elapsed = now - this.#at
    const done = finished - this.#finished
    this.#finished = finished
    this.#at = now
    if (elapsed <= 0 || this.horizonMs === 0) return false
    const before = this.#count
    this.#count = Math.min(this.cap, Math.floor((done / elapsed) * this.horizonMs))
    return this.#count > before
  }
}
