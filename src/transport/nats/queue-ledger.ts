import { TRANSPORT_DEFAULTS } from '../defaults.js'

/** What a ledger tracks of one delivery: whether settling it still acts on the message. */
export interface Tracked {
  /** Marks the delivery as replaced by a newer delivery of the same message. */
  supersede(): void
  /** True while settling acts on the message (not settled, superseded or expired). */
  readonly live: boolean
}

// Bounds for messages this process never hears of again (settled by another node): the
// oldest entries go first, which by then belong to long-settled messages.
const MAX_ENTRIES = 100_000

function cap<V>(map: Map<number, V>): void {
  if (map.size <= MAX_ENTRIES) return
  for (const key of map.keys()) {
    map.delete(key)
    if (map.size <= MAX_ENTRIES * 0.9) break
  }
}

/**
 * What one transport knows about the deliveries of one queue, shared by its consumers of it:
 * early arrivals it sent back, and the newest delivery of each message, by stream sequence.
 *
 * @remarks
 * Both correct for things JetStream counts differently than the contract. An early arrival
 * (before Not-Before) that the transport naks back still raises the server's delivery count,
 * so it is subtracted here; a node that did not see the early arrival reports a count one
 * higher. And the server accepts an ack from an older delivery of a message that has since
 * been redelivered, so a delivery is disarmed once a newer delivery of its message arrives
 * (as well as when its own ack wait runs out).
 */
export class QueueLedger {
  /** The queue's ack wait, ms, as the server's consumer has it; set when the queue is declared and when a consumer starts. */
  ackWaitMs: number

  constructor(ackWaitMs: number = TRANSPORT_DEFAULTS.ackWaitMs) {
    this.ackWaitMs = ackWaitMs
  }
  readonly #deferrals = new Map<number, number>()
  readonly #live = new Map<number, Tracked>()

  /** Records an early arrival of the message at `seq`. */
  defer(seq: number): void {
    this.#deferrals.set(seq, (this.#deferrals.get(seq) ?? 0) + 1)
    cap(this.#deferrals)
  }

  /** Early arrivals of the message at `seq` seen here. */
  deferrals(seq: number): number {
    return this.#deferrals.get(seq) ?? 0
  }

  /** Makes `delivery` the current delivery of `seq`, disarming the one before. */
  track(seq: number, delivery: Tracked): void {
    const previous = this.#live.get(seq)
    if (previous !== undefined) {
      previous.supersede()
      this.#live.delete(seq)
    }
    this.#live.set(seq, delivery)
    if (this.#live.size > MAX_ENTRIES) {
      for (const [key, tracked] of this.#live) if (!tracked.live) this.#live.delete(key)
      cap(this.#live)
    }
  }

  /** Forgets a message settled for good (acked or dead-lettered). */
  forget(seq: number, delivery?: Tracked): void {
    this.#deferrals.delete(seq)
    if (delivery === undefined || this.#live.get(seq) === delivery) this.#live.delete(seq)
  }

  /** Forgets the delivery of a message that will come back (nak'd): its deferrals still count. */
  release(seq: number, delivery: Tracked): void {
    if (this.#live.get(seq) === delivery) this.#live.delete(seq)
  }
}
