import type { Consumer, Delivery, QueueDeclaration, Transport } from '../transport/transport.js'
import type { QueueConfig } from '../config/defaults.js'
import { toMs } from '../util/duration.js'

/**
 * A node's consumers, one per queue, each with the credit it was granted and has not used: the
 * node grants each exactly the slots no task waits for, so it never pulls more than it can run.
 */
export class ConsumerSet {
  readonly #open = new Map<string, { consumer: Consumer; credit: number }>()
  /** Every queue consumed since the node started, closed ones too: their tasks may still run. */
  readonly #consumed = new Set<string>()
  readonly #receive: (queue: string, delivery: Delivery) => void

  constructor(receive: (queue: string, delivery: Delivery) => void) {
    this.#receive = receive
  }

  has(queue: string): boolean {
    return this.#open.has(queue)
  }

  /** Starts consuming `queue` (no credit yet: {@link grant} gives it). */
  open(transport: Transport, queue: string): void {
    this.#consumed.add(queue)
    this.#open.set(queue, { consumer: transport.consume(queue, (delivery) => this.#receive(queue, delivery)), credit: 0 })
  }

  /** The queues consumed since the node started, whether still open or not. */
  consumed(): Iterable<string> {
    return this.#consumed
  }

  /** A delivery from `queue` used one of its credits. */
  used(queue: string): void {
    const entry = this.#open.get(queue)
    if (entry) entry.credit--
  }

  /** Tops every consumer's credit up to `want`. */
  grant(want: number): void {
    for (const entry of this.#open.values()) {
      const grant = want - entry.credit
      if (grant > 0) {
        entry.credit += grant
        entry.consumer.pull(grant)
      }
    }
  }

  /** Stops consuming `queue`; false when it was not consumed. */
  async close(queue: string): Promise<boolean> {
    const entry = this.#open.get(queue)
    if (!entry) return false
    this.#open.delete(queue)
    await entry.consumer.close()
    return true
  }

  /** Stops every consumer; a consumer that cannot close is reported, and the others still close. */
  async closeAll(onError: (error: unknown) => void): Promise<void> {
    const open = [...this.#open.values()]
    this.#open.clear()
    await Promise.all(open.map(({ consumer }) => consumer.close().catch(onError)))
  }
}

/** The delivery limit and max age a `taskQueues` entry sets, as a declaration takes them. */
function queueLimits(config: QueueConfig | undefined): Pick<QueueDeclaration, 'maxDeliver' | 'maxAgeMs'> {
  const limits: Pick<QueueDeclaration, 'maxDeliver' | 'maxAgeMs'> = {}
  if (config?.maxDeliver !== undefined) limits.maxDeliver = config.maxDeliver === null ? Infinity : config.maxDeliver
  if (config?.maxAge !== undefined) limits.maxAgeMs = toMs(config.maxAge, `taskQueues[${config.name}].maxAge`)
  return limits
}

/**
 * Declares the queues a node consumes: a queue configured in `taskQueues` with an exchange is
 * bound to it (by its routing key, else its name); any other is a plain queue.
 */
export async function declareQueues(transport: Transport, taskQueues: readonly QueueConfig[], names: readonly string[]): Promise<void> {
  const declared = new Map(taskQueues.map((q) => [q.name, q]))
  for (const name of names) {
    const config = declared.get(name)
    const limits = queueLimits(config)
    if (config?.exchange) {
      await transport.declareExchange({ name: config.exchange, type: config.exchangeType ?? 'direct' })
      const queue: QueueDeclaration = { name, bindings: [{ exchange: config.exchange, key: config.routingKey ?? name }], ...limits }
      await transport.declareQueue(queue)
    } else {
      await transport.declareQueue({ name, ...limits })
    }
  }
}
