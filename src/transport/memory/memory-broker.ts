import { TransportError } from '../../errors.js'
import { compileSubject, type TopicPredicate } from '../../routing/topic.js'
import type { Clock } from '../../util/clock.js'
import type {
  DeadLetter,
  ExchangeType,
  OutgoingMessage,
  PublishAck,
  QueueDeclaration,
  SubscriptionHandler,
} from '../transport.js'
import { ExchangeTable } from '../../routing/exchange-table.js'
import { MemoryQueue, type QueueSettings } from './memory-queue.js'
import { reportLater } from './report-later.js'
import { SeenIds } from './seen-ids.js'

// Dead letters are for inspection, not storage: past this many the oldest are dropped.
const MAX_DEAD_LETTERS = 10_000
// NATS keeps every msgId of the window; here memory is the process's own, so the oldest
// ids are forgotten early past this many.
const MAX_SEEN_IDS = 1_000_000
const PRUNE_EVERY = 1024

/** @internal A subscriber of the publish/subscribe channel. */
export interface Subscriber {
  readonly match: TopicPredicate
  readonly handler: SubscriptionHandler
  active: boolean
}

/**
 * The state behind `memory://`: exchanges, queues, dead letters, seen message ids, revoked
 * ids, rate limits and pub/sub subscribers, shared by every {@link MemoryTransport} connected
 * to it.
 *
 * @remarks
 * The broker owns no clock and no timer. Times are absolute clock ms given by the
 * connection that acts; a queue's timers run on the clock of its consumers' connection.
 * Message bodies are stored by reference: do not change a buffer after publishing it.
 * @example
 * const broker = new MemoryBroker()
 * const a = new MemoryTransport({ broker })
 * const b = new MemoryTransport({ broker }) // sees what `a` publishes
 */
export class MemoryBroker {
  readonly #exchanges = new ExchangeTable<MemoryQueue>()
  readonly #queues = new Map<string, MemoryQueue>()
  #deadLetters: DeadLetter[] = []
  readonly #seen = new SeenIds()
  #seenSincePrune = 0
  readonly #revoked = new Map<string, number>()
  readonly #subscribers = new Set<Subscriber>()
  /** When each rate limit's next slot is free (clock ms), by limit name. */
  readonly #nextFree = new Map<string, number>()

  /** Declares an exchange; the default exchange `''` exists already and routes by queue name. */
  declareExchange(name: string, type: ExchangeType): void {
    if (name === '') {
      if (type !== 'direct') throw new TransportError(`the default exchange "" is direct, not ${type}`)
      return
    }
    this.#exchanges.declare(name, type)
  }

  /**
   * Declares a queue with `defaults` for the settings it leaves out, and adds its bindings.
   * A redeclaration changes only the settings it names.
   */
  declareQueue(declaration: QueueDeclaration, defaults: QueueSettings, clock: Clock): void {
    const { name, bindings = [] } = declaration
    for (const { exchange, key } of bindings) {
      if (exchange === '') {
        if (key !== name) {
          throw new TransportError(`queue "${name}" cannot bind to the default exchange with key "${key}"`)
        }
      } else if (!this.#exchanges.has(exchange)) {
        throw new TransportError(`exchange "${exchange}" is not declared (binding of queue "${name}")`)
      }
    }
    let queue = this.#queues.get(name)
    if (queue === undefined) {
      const settings = {
        ackWaitMs: declaration.ackWaitMs ?? defaults.ackWaitMs,
        maxDeliver: declaration.maxDeliver ?? defaults.maxDeliver,
      }
      queue = new MemoryQueue(name, settings, clock, this.#addDeadLetter)
      this.#queues.set(name, queue)
    } else {
      const changes: Partial<QueueSettings> = {}
      if (declaration.ackWaitMs !== undefined) changes.ackWaitMs = declaration.ackWaitMs
      if (declaration.maxDeliver !== undefined) changes.maxDeliver = declaration.maxDeliver
      queue.update(changes)
    }
    for (const { exchange, key } of bindings) if (exchange !== '') this.#exchanges.bind(exchange, key, queue)
  }

  /** The queue named `name`; throws a {@link TransportError} naming it when undeclared. */
  queue(name: string): MemoryQueue {
    const queue = this.#queues.get(name)
    if (queue === undefined) throw new TransportError(`queue "${name}" is not declared`)
    return queue
  }

  /**
   * Routes and stores a message. A `msgId` stored within the last `duplicateWindowMs` makes
   * it a duplicate; an id is remembered only once a message carrying it was stored.
   */
  publish(message: OutgoingMessage, clock: Clock, duplicateWindowMs: number): PublishAck {
    const { exchange, routingKey, msgId } = message
    const dedupe = msgId !== undefined && duplicateWindowMs > 0
    // Read for every message: the stored time is what a worker's queue-wait metric counts from.
    const now = clock.now()
    let targets: readonly MemoryQueue[]
    if (exchange === '') {
      const queue = this.#queues.get(routingKey)
      targets = queue === undefined ? [] : [queue]
    } else {
      targets = this.#exchanges.route(exchange, routingKey)
    }
    // Routed first, so that the id is read once: remembered only when some queue stores it.
    if (dedupe && this.#claim(msgId, now, targets.length > 0 ? now + duplicateWindowMs : undefined)) return { queues: [], duplicate: true }
    const queues = new Array<string>(targets.length)
    for (let i = 0; i < targets.length; i++) {
      const queue = targets[i]
      queue.enqueue({
        body: message.body,
        exchange,
        routingKey,
        msgId,
        priority: message.priority ?? 0,
        deliveryCount: 0,
        due: message.notBefore ?? 0,
        storedAt: now,
        seq: 0,
      })
      queues[i] = queue.name
    }
    return { queues, duplicate: false }
  }

  /** Moves the dead letters of `queue` back into it, oldest first; returns how many. */
  replayDeadLetters(queue: string, clock: Clock): number {
    const target = this.#queues.get(queue)
    if (target === undefined) return 0
    const replayed = this.#deadLetters.filter((letter) => letter.queue === queue)
    this.#deadLetters = this.#deadLetters.filter((letter) => letter.queue !== queue)
    for (const letter of replayed) this.publish({ exchange: '', routingKey: queue, body: letter.body }, clock, 0)
    return replayed.length
  }

  /** Dead-lettered messages, oldest first, of one queue or all. */
  deadLetters(queue?: string): DeadLetter[] {
    if (queue !== undefined) this.#queues.get(queue)?.depth()
    else for (const q of this.#queues.values()) q.depth()
    return queue === undefined ? [...this.#deadLetters] : this.#deadLetters.filter((l) => l.queue === queue)
  }

  /** Marks `id` revoked until `until` (clock ms). */
  revoke(id: string, until: number, now: number): void {
    // Re-inserted so that the map stays roughly in expiry order for pruning.
    this.#revoked.delete(id)
    this.#revoked.set(id, until)
    for (const [other, expiry] of this.#revoked) {
      if (expiry > now) break
      this.#revoked.delete(other)
    }
  }

  /** True when `id` is revoked at `now`. */
  isRevoked(id: string, now: number): boolean {
    const until = this.#revoked.get(id)
    return until !== undefined && until > now
  }

  /** The ids revoked at `now`. */
  revokedIds(now: number): string[] {
    const ids: string[] = []
    for (const [id, until] of this.#revoked) {
      if (until > now) ids.push(id)
      else this.#revoked.delete(id)
    }
    return ids
  }

  /** Reserves the next slot of the rate limit `key` at `now`; returns the ms to wait for it. */
  reserveRate(key: string, intervalMs: number, now: number): number {
    const at = Math.max(now, this.#nextFree.get(key) ?? 0)
    this.#nextFree.set(key, at + intervalMs)
    return at - now
  }

  /** Adds a subscriber for subjects matching the NATS pattern `pattern`. */
  subscribe(pattern: string, handler: SubscriptionHandler): Subscriber {
    const subscriber: Subscriber = { match: compileSubject(pattern), handler, active: true }
    this.#subscribers.add(subscriber)
    return subscriber
  }

  /** Removes a subscriber; a message already on its way is not delivered to it. */
  unsubscribe(subscriber: Subscriber): void {
    subscriber.active = false
    this.#subscribers.delete(subscriber)
  }

  /** Delivers `data` to every subscriber matching `subject`, in a microtask, with `reply` when the sender awaits replies. */
  broadcast(subject: string, data: Uint8Array, reply?: (data: Uint8Array) => void): void {
    const targets: Subscriber[] = []
    for (const subscriber of this.#subscribers) if (subscriber.match(subject)) targets.push(subscriber)
    if (targets.length === 0) return
    queueMicrotask(() => {
      for (const subscriber of targets) {
        if (!subscriber.active) continue
        try {
          subscriber.handler(subject, data, reply)
        } catch (error) {
          reportLater(error)
        }
      }
    })
  }

  readonly #addDeadLetter = (letter: DeadLetter): void => {
    this.#deadLetters.push(letter)
    if (this.#deadLetters.length > MAX_DEAD_LETTERS) this.#deadLetters = this.#deadLetters.slice(-MAX_DEAD_LETTERS)
  }

  /** True for a duplicate; otherwise remembers `msgId` until `until` (if given), pruning now and then. */
  #claim(msgId: string, now: number, until: number | undefined): boolean {
    if (this.#seen.claim(msgId, now, until)) return true
    if (until !== undefined && (++this.#seenSincePrune >= PRUNE_EVERY || this.#seen.size > MAX_SEEN_IDS)) {
      this.#seenSincePrune = 0
      this.#seen.prune(now, MAX_SEEN_IDS)
    }
    return false
  }

}

const brokers = new Map<string, MemoryBroker>()

/**
 * The process-wide broker named `name`: `memory://` is `memoryBroker('')`, `memory://x` is
 * `memoryBroker('x')`. Transports created for the same name share exchanges, queues and
 * messages.
 * @example
 * const transport = new MemoryTransport({ broker: memoryBroker('tests') })
 */
export function memoryBroker(name = ''): MemoryBroker {
  let broker = brokers.get(name)
  if (broker === undefined) {
    broker = new MemoryBroker()
    brokers.set(name, broker)
  }
  return broker
}
