import type { Clock } from '../util/clock.js'
import type { Logger } from '../util/logger.js'

// Kinds of reason remembered at once: a flood of distinct reasons cannot grow this map.
const MAX_KINDS = 256

/**
 * Logs dead-lettered messages once per kind of reason and period, not once per message: a
 * flood of bad messages must not become a flood of log lines. The kind is the reason without
 * the value it quotes (what follows `, got `), so `headers.eta must be ..., got 1e300` and
 * `..., got NaN` are one kind. The first of a kind is logged at once; later ones are counted
 * and reported with the next line of that kind, at most one per `periodMs`.
 */
export class ReasonLog {
  readonly #logger: Logger
  readonly #clock: Clock
  readonly #periodMs: number
  readonly #kinds = new Map<string, { at: number; suppressed: number }>()

  constructor(logger: Logger, clock: Clock, periodMs = 60_000) {
    this.#logger = logger
    this.#clock = clock
    this.#periodMs = periodMs
  }

  /** Notes a dead-lettered message; logs it unless its kind was logged within the period. */
  note(reason: string, fields: Record<string, unknown>): void {
    const got = reason.indexOf(', got ')
    const kind = got === -1 ? reason : reason.slice(0, got)
    const now = this.#clock.now()
    const seen = this.#kinds.get(kind)
    if (seen && now - seen.at < this.#periodMs) {
      seen.suppressed++
      return
    }
    if (!seen && this.#kinds.size >= MAX_KINDS) this.#kinds.delete(this.#kinds.keys().next().value!)
    this.#kinds.set(kind, { at: now, suppressed: 0 })
    this.#logger.error('dead-lettered a message', { reason, ...fields, ...(seen?.suppressed ? { alsoDeadLettered: seen.suppressed } : {}) })
  }
}
