import { InvalidArgumentError } from '../../errors.js'
import type { Clock } from '../../util/clock.js'
import type { Consumer, Delivery } from '../transport.js'

/** The queue a consumer pulls from, as the consumer sees it (a port: the queue imports the consumer, not the reverse). */
export interface ConsumerSource {
  requestDrain(): void
  detach(consumer: MemoryConsumer): void
}

/** A pull consumer on a memory queue: the queue delivers to it while it has credit. */
export class MemoryConsumer implements Consumer {
  /** @internal Deliveries still asked for. */
  credit = 0
  /** @internal Set once by `close()`. */
  closed = false
  /** @internal The connection's clock, which runs the queue's timers while this consumer is attached. */
  readonly clock: Clock
  /** @internal Called with every delivery. */
  readonly onDelivery: (delivery: Delivery) => void
  readonly #queue: ConsumerSource
  readonly #onClose: (consumer: MemoryConsumer) => void

  constructor(
    queue: ConsumerSource,
    clock: Clock,
    onDelivery: (delivery: Delivery) => void,
    onClose: (consumer: MemoryConsumer) => void,
  ) {
    this.#queue = queue
    this.clock = clock
    this.onDelivery = onDelivery
    this.#onClose = onClose
  }

  pull(n: number): void {
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('n must be a positive integer')
    if (this.closed) return
    this.credit += n
    this.#queue.requestDrain()
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true
      this.credit = 0
      this.#queue.detach(this)
      this.#onClose(this)
    }
    return Promise.resolve()
  }
}
