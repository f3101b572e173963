import { InvalidArgumentError, TransportError } from '../../errors.js'
import { systemClock, type Clock } from '../../util/clock.js'
import type {
  QueueStats,
  Consumer,
  DeadLetter,
  Delivery,
  ExchangeDeclaration,
  OutgoingMessage,
  PublishAck,
  QueueDeclaration,
  RequestOptions,
  RevokedIds,
  Subscription,
  SubscriptionHandler,
  Transport,
} from '../transport.js'
import { isMaxDeliver, isPositive, nonEmpty, validateExchange, validateMessage, validatePattern, validateQueue, validateRate, validateRequest, validateSubject } from '../validate.js'
import { collectReplies } from '../collect-replies.js'
import { TRANSPORT_DEFAULTS } from '../defaults.js'
import { memoryBroker, type MemoryBroker, type Subscriber } from './memory-broker.js'
import { MemoryConsumer } from './memory-consumer.js'

/** Options of {@link MemoryTransport}. */
export interface MemoryTransportOptions {
  /** The broker to connect to. Default: `memoryBroker('')`, the broker `memory://` names. */
  broker?: MemoryBroker
  /** Time for ack waits, delays, dedupe, revocations and rate limits. Default: the system clock. */
  clock?: Clock
  /** Ack wait of queues declared through this connection without one, ms. Default 30 000. */
  ackWaitMs?: number
  /** Delivery limit of queues declared through this connection without one. Default: unlimited. */
  maxDeliver?: number
  /**
   * How long a stored `msgId` makes later publishes with that id duplicates, ms; 0 turns
   * dedupe off. Default 120 000.
   */
  duplicateWindowMs?: number
}

/** Defaults of {@link MemoryTransportOptions}; ack wait and duplicate window are those of NATS. */
export const memoryTransportDefaults = {
  ...TRANSPORT_DEFAULTS,
} as const satisfies Required<Omit<MemoryTransportOptions, 'broker' | 'clock'>>

/**
 * A connection to an in-process {@link MemoryBroker}: the `memory://` transport.
 *
 * @remarks
 * Follows the JetStream semantics the contract describes, with everything in the process:
 * nothing survives a restart. Closing a connection stops its consumers, subscriptions and
 * timers; the broker keeps its messages for other connections.
 * @example
 * const transport = new MemoryTransport({ broker: memoryBroker('tests'), ackWaitMs: 5_000 })
 * await transport.declareQueue({ name: 'celery' })
 * await transport.publish({ exchange: '', routingKey: 'celery', body })
 * transport.consume('celery', (delivery) => delivery.ack()).pull(10)
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory'
  /** The broker this connection talks to. */
  readonly broker: MemoryBroker
  readonly #clock: Clock
  readonly #ackWaitMs: number
  readonly #maxDeliver: number
  readonly #duplicateWindowMs: number
  #closed = false
  readonly #consumers = new Set<MemoryConsumer>()
  readonly #subscribers = new Set<Subscriber>()

  constructor(options: MemoryTransportOptions = {}) {
    const ackWaitMs = options.ackWaitMs ?? memoryTransportDefaults.ackWaitMs
    const maxDeliver = options.maxDeliver ?? memoryTransportDefaults.maxDeliver
    const duplicateWindowMs = options.duplicateWindowMs ?? memoryTransportDefaults.duplicateWindowMs
    if (!isPositive(ackWaitMs)) throw new InvalidArgumentError('options.ackWaitMs must be a positive finite number')
    if (!isMaxDeliver(maxDeliver)) throw new InvalidArgumentError('options.maxDeliver must be a positive integer')
    if (typeof duplicateWindowMs !== 'number' || !(duplicateWindowMs >= 0) || duplicateWindowMs === Infinity) {
      throw new InvalidArgumentError('options.duplicateWindowMs must be a non-negative finite number')
    }
    this.broker = options.broker ?? memoryBroker()
    this.#clock = options.clock ?? systemClock
    this.#ackWaitMs = ackWaitMs
    this.#maxDeliver = maxDeliver
    this.#duplicateWindowMs = duplicateWindowMs
  }

  /** Reopens a closed connection; a new one is open already. */
  connect(): Promise<void> {
    this.#closed = false
    return Promise.resolve()
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const consumer of this.#consumers) await consumer.close()
    for (const subscriber of this.#subscribers) this.broker.unsubscribe(subscriber)
    this.#subscribers.clear()
  }

  async declareExchange(exchange: ExchangeDeclaration): Promise<void> {
    this.#assertOpen()
    validateExchange(exchange)
    this.broker.declareExchange(exchange.name, exchange.type)
  }

  async declareQueue(queue: QueueDeclaration): Promise<void> {
    this.#assertOpen()
    validateQueue(queue)
    this.broker.declareQueue(queue, { ackWaitMs: this.#ackWaitMs, maxDeliver: this.#maxDeliver }, this.#clock)
  }

  async publish(message: OutgoingMessage): Promise<PublishAck> {
    return this.publishNow(message)
  }

  publishNow(message: OutgoingMessage): PublishAck {
    this.#assertOpen()
    validateMessage(message)
    return this.broker.publish(message, this.#clock, this.#duplicateWindowMs)
  }

  leaseMs(queue: string): number | undefined {
    try {
      return this.broker.queue(queue).ackWaitMs
    } catch {
      return undefined
    }
  }

  consume(queue: string, onDelivery: (delivery: Delivery) => void): Consumer {
    this.#assertOpen()
    nonEmpty(queue, 'queue')
    if (typeof onDelivery !== 'function') throw new InvalidArgumentError('onDelivery must be a function')
    const target = this.broker.queue(queue)
    const consumer = new MemoryConsumer(target, this.#clock, onDelivery, (c) => this.#consumers.delete(c))
    this.#consumers.add(consumer)
    target.attach(consumer)
    return consumer
  }

  async purge(queue: string): Promise<number> {
    this.#assertOpen()
    return this.broker.queue(queue).purge()
  }

  async depth(queue: string): Promise<number> {
    this.#assertOpen()
    return this.broker.queue(queue).depth()
  }

  async ping(): Promise<void> {
    this.#assertOpen()
  }

  async queueStats(queue: string): Promise<QueueStats> {
    this.#assertOpen()
    const stats = this.broker.queue(queue).stats()
    return { ...stats, dead: this.broker.deadLetters(queue).length }
  }

  async deadLetters(queue?: string): Promise<DeadLetter[]> {
    this.#assertOpen()
    return this.broker.deadLetters(queue)
  }

  async replayDeadLetters(queue: string): Promise<number> {
    this.#assertOpen()
    nonEmpty(queue, 'queue')
    return this.broker.replayDeadLetters(queue, this.#clock)
  }

  async revoke(id: string, ttlMs: number): Promise<void> {
    this.#assertOpen()
    nonEmpty(id, 'id')
    if (!isPositive(ttlMs)) throw new InvalidArgumentError('ttlMs must be a positive finite number')
    const now = this.#clock.now()
    this.broker.revoke(id, now + ttlMs, now)
  }

  async revoked(): Promise<RevokedIds> {
    this.#assertOpen()
    const { broker } = this
    const clock = this.#clock
    // The view reads the broker directly, so it is always current; what was noted here (a
    // broadcast, which in one process never overtakes the store) is kept beside it.
    const noted = new Map<string, number>()
    const isNoted = (id: string, now: number) => (noted.get(id) ?? 0) > now
    return {
      has: (id) => broker.isRevoked(id, clock.now()) || isNoted(id, clock.now()),
      list: () => {
        const now = clock.now()
        const ids = new Set(broker.revokedIds(now))
        for (const id of noted.keys()) if (isNoted(id, now)) ids.add(id)
        return [...ids]
      },
      note: (id, untilMs) => {
        if ((noted.get(id) ?? 0) < untilMs) noted.set(id, untilMs)
        if (noted.size > 1024) for (const [other, end] of noted) if (end <= clock.now()) noted.delete(other)
      },
      close: () => noted.clear(),
    }
  }

  broadcast(subject: string, data: Uint8Array): void {
    this.#assertOpen()
    validateSubject(subject)
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('data must be a Uint8Array')
    this.broker.broadcast(subject, data)
  }

  subscribe(pattern: string, handler: SubscriptionHandler): Subscription {
    this.#assertOpen()
    validatePattern(pattern)
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function')
    const subscriber = this.broker.subscribe(pattern, handler)
    this.#subscribers.add(subscriber)
    return {
      ready: Promise.resolve(),
      unsubscribe: () => {
        this.broker.unsubscribe(subscriber)
        this.#subscribers.delete(subscriber)
      },
    }
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Uint8Array[]> {
    this.#assertOpen()
    validateRequest(subject, data, options)
    return collectReplies(options, (push) => {
      let open = true
      this.broker.broadcast(subject, data, (reply) => {
        if (!(reply instanceof Uint8Array)) throw new InvalidArgumentError('a reply must be a Uint8Array')
        if (open) push(reply)
      })
      return () => (open = false)
    })
  }

  /** Reserves a slot of a rate limit shared by every connection to this broker. */
  async reserveRate(key: string, intervalMs: number): Promise<number> {
    this.#assertOpen()
    validateRate(key, intervalMs)
    return this.broker.reserveRate(key, intervalMs, this.#clock.now())
  }

  #assertOpen(): void {
    if (this.#closed) throw new TransportError('memory transport is closed')
  }
}
