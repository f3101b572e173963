import type { Clock, TimerHandle } from '../../util/clock.js'
import type { DeadLetter } from '../transport.js'
import { DelayHeap } from './delay-heap.js'
import { Deque } from './deque.js'
import type { MemoryConsumer } from './memory-consumer.js'
import { MemoryDelivery } from './memory-delivery.js'
import { reportLater } from './report-later.js'
import { deliveredTooOften } from '../defaults.js'
import type { StoredMessage } from './stored-message.js'

export type { StoredMessage } from './stored-message.js'

/** Ack wait and delivery limit of a queue. */
export interface QueueSettings {
  ackWaitMs: number
  maxDeliver: number
}

const PRIORITIES = 10
// Deliveries per drain pass before yielding to the event loop, so a consumer that keeps
// adding credit cannot starve timers and I/O.
const DRAIN_BATCH = 1024

/**
 * One queue of the memory broker: ready messages in ten FIFO buckets by priority, delayed
 * messages in a min-heap, deliveries in flight in an insertion-ordered set.
 *
 * @remarks
 * Ack wait is per queue, so in-flight deadlines are in insertion order (`working()`
 * re-inserts): one timer for the earliest deadline or due time covers the whole queue.
 * Timers run on the clock of the attached consumers' connection, and only while a
 * consumer is attached; otherwise due messages and expired deliveries are caught up
 * lazily, when a consumer attaches or the queue is inspected.
 */
export class MemoryQueue {
  /** The queue's name. */
  readonly name: string
  #settings: QueueSettings
  #clock: Clock
  readonly #deadLetter: (letter: DeadLetter) => void
  readonly #buckets: Deque<StoredMessage>[] = Array.from({ length: PRIORITIES }, () => new Deque<StoredMessage>())
  #readyCount = 0
  #top = 0
  readonly #delayed = new DelayHeap<StoredMessage>()
  #seq = 0
  #inFlight = new Set<MemoryDelivery>()
  #consumers: MemoryConsumer[] = []
  #cursor = 0
  #drainPending = false
  #timer: TimerHandle | undefined
  #timerAt = Infinity
  #timerClock: Clock | undefined

  constructor(name: string, settings: QueueSettings, clock: Clock, deadLetter: (letter: DeadLetter) => void) {
    this.name = name
    this.#settings = { ...settings }
    this.#clock = clock
    this.#deadLetter = deadLetter
  }

  /** How long a delivery may stay unsettled before it is handed out again, ms. */
  get ackWaitMs(): number {
    return this.#settings.ackWaitMs
  }

  /** Applies a redeclaration: only the settings it names change. */
  update(settings: Partial<QueueSettings>): void {
    const previous = this.#settings.ackWaitMs
    this.#settings = { ...this.#settings, ...settings }
    if (this.#settings.ackWaitMs < previous && this.#inFlight.size > 1) {
      // A shorter ack wait breaks the insertion order of deadlines that the sweep relies on.
      this.#inFlight = new Set([...this.#inFlight].sort((a, b) => a.deadline - b.deadline))
    }
    this.#arm()
  }

  /** Stores a message: ready now, or delayed until `due`. */
  enqueue(message: StoredMessage): void {
    if (message.due > this.#clock.now()) {
      message.seq = ++this.#seq
      this.#delayed.push(message)
      if (message.due < this.#timerAt) this.#arm()
    } else {
      this.#pushReady(message, false)
      this.requestDrain()
    }
  }

  /** Ready plus delayed messages, not counting deliveries in flight. */
  depth(): number {
    this.#catchUp()
    return this.#readyCount + this.#delayed.size
  }

  /** Ready, delayed and in-flight counts, and the age of the oldest ready message (ms). */
  stats(): { ready: number; delayed: number; inFlight: number; oldestAgeMs: number } {
    this.#catchUp()
    const now = this.#clock.now()
    let oldest = now
    for (const bucket of this.#buckets) {
      const head = bucket.peek()
      if (head !== undefined) oldest = Math.min(oldest, Math.max(head.storedAt, head.due))
    }
    return { ready: this.#readyCount, delayed: this.#delayed.size, inFlight: this.#inFlight.size, oldestAgeMs: now - oldest }
  }

  /** Drops ready and delayed messages; returns how many. */
  purge(): number {
    this.#catchUp()
    let dropped = this.#delayed.clear()
    for (const bucket of this.#buckets) dropped += bucket.clear()
    this.#readyCount = 0
    this.#top = 0
    this.#arm()
    return dropped
  }

  /** Starts delivering to `consumer`; its connection's clock now runs this queue's timers. */
  attach(consumer: MemoryConsumer): void {
    this.#consumers = [...this.#consumers, consumer]
    this.#useClock(consumer.clock)
    this.#catchUp()
    this.#arm()
  }

  /** Stops delivering to `consumer`; its deliveries stay in flight. */
  detach(consumer: MemoryConsumer): void {
    // Copy on write: a drain pass in progress keeps iterating its own snapshot.
    this.#consumers = this.#consumers.filter((c) => c !== consumer)
    if (this.#consumers.length > 0) this.#useClock(this.#consumers[0].clock)
    this.#arm()
  }

  /** Schedules a drain pass unless one is pending or nothing is ready. */
  requestDrain(): void {
    if (this.#drainPending || this.#readyCount === 0) return
    this.#drainPending = true
    queueMicrotask(this.#drain)
  }

  /** Settles a delivery as done. */
  ack(delivery: MemoryDelivery): void {
    this.#inFlight.delete(delivery)
  }

  /** Settles a delivery as not done: ready again now, or after `delayMs`. */
  nak(delivery: MemoryDelivery, delayMs: number): void {
    if (!this.#inFlight.delete(delivery)) return
    const message = delivery.message
    if (message.deliveryCount >= this.#settings.maxDeliver) {
      this.#kill(message, deliveredTooOften(message.deliveryCount))
    } else if (delayMs > 0) {
      message.due = this.#clock.now() + delayMs
      this.enqueue(message)
    } else {
      this.#pushReady(message, true)
      this.requestDrain()
    }
  }

  /** Restarts the ack wait of a delivery in flight. */
  working(delivery: MemoryDelivery): void {
    if (!this.#inFlight.delete(delivery)) return
    delivery.deadline = this.#clock.now() + this.#settings.ackWaitMs
    this.#inFlight.add(delivery)
  }

  /** Settles a delivery as never to be delivered again. */
  term(delivery: MemoryDelivery, reason: string): void {
    if (this.#inFlight.delete(delivery)) this.#kill(delivery.message, reason)
  }

  #kill(message: StoredMessage, reason: string): void {
    this.#deadLetter({
      queue: this.name,
      body: message.body,
      reason,
      deliveryCount: message.deliveryCount,
      at: this.#clock.now(),
    })
  }

  #pushReady(message: StoredMessage, front: boolean): void {
    const priority = message.priority
    if (front) this.#buckets[priority].unshift(message)
    else this.#buckets[priority].push(message)
    this.#readyCount++
    if (priority > this.#top) this.#top = priority
  }

  #takeReady(): StoredMessage | undefined {
    for (let p = this.#top; p >= 0; p--) {
      const message = this.#buckets[p].shift()
      if (message !== undefined) {
        this.#top = p
        this.#readyCount--
        return message
      }
    }
    return undefined
  }

  readonly #drain = (): void => {
    this.#drainPending = false
    const consumers = this.#consumers
    const n = consumers.length
    const { ackWaitMs, maxDeliver } = this.#settings
    const deadline = this.#clock.now() + ackWaitMs
    let budget = DRAIN_BATCH
    let idle = 0
    let i = this.#cursor
    while (this.#readyCount > 0 && idle < n) {
      if (budget === 0) {
        this.#drainPending = true
        setImmediate(this.#drain)
        break
      }
      if (i >= n) i = 0
      const consumer = consumers[i++]
      if (consumer.credit <= 0) {
        idle++
        continue
      }
      idle = 0
      const message = this.#takeReady() as StoredMessage
      // Normally caught when the message came back; this covers a maxDeliver lowered since.
      if (message.deliveryCount >= maxDeliver) {
        this.#kill(message, deliveredTooOften(message.deliveryCount))
        continue
      }
      message.deliveryCount++
      consumer.credit--
      budget--
      const delivery = new MemoryDelivery(this, message, deadline)
      this.#inFlight.add(delivery)
      try {
        consumer.onDelivery(delivery)
      } catch (error) {
        reportLater(error)
      }
    }
    this.#cursor = i
    if (this.#timer === undefined && this.#inFlight.size > 0) this.#arm()
  }

  /** Moves due delayed messages to ready and expired deliveries back to ready (or dead letters). */
  #catchUp(): void {
    const now = this.#clock.now()
    let top = this.#delayed.peek()
    while (top !== undefined && top.due <= now) {
      this.#delayed.pop()
      this.#pushReady(top, false)
      top = this.#delayed.peek()
    }
    for (const delivery of this.#inFlight) {
      if (delivery.deadline > now) break
      this.#inFlight.delete(delivery)
      const message = delivery.message
      if (message.deliveryCount >= this.#settings.maxDeliver) this.#kill(message, deliveredTooOften(message.deliveryCount))
      else this.#pushReady(message, true)
    }
    this.requestDrain()
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined
    this.#timerAt = Infinity
    this.#catchUp()
    this.#arm()
  }

  /** Keeps the one timer set for the earliest due time or deadline, while consumers are attached. */
  #arm(): void {
    let at = Infinity
    if (this.#consumers.length > 0) {
      const due = this.#delayed.peek()?.due
      if (due !== undefined) at = due
      if (this.#inFlight.size > 0) {
        const first = this.#inFlight.values().next().value as MemoryDelivery
        if (first.deadline < at) at = first.deadline
      }
    }
    if (at === this.#timerAt) return
    // A timer that fires early finds nothing to do and re-arms; that is cheaper than
    // resetting it on every ack.
    if (at > this.#timerAt && at !== Infinity) return
    this.#clearTimer()
    if (at === Infinity) return
    this.#timerAt = at
    this.#timerClock = this.#clock
    this.#timer = this.#clock.setTimeout(this.#onTimer, at - this.#clock.now())
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#timerClock?.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Infinity
  }

  #useClock(clock: Clock): void {
    if (clock === this.#clock) return
    this.#clearTimer()
    this.#clock = clock
  }
}
