import type { JsMsg } from '@nats-io/jetstream'
import { InvalidArgumentError } from '../../errors.js'
import type { Clock } from '../../util/clock.js'
import type { Delivery } from '../transport.js'
import { deliveredTooOften } from '../defaults.js'
import type { QueueLedger, Tracked } from './queue-ledger.js'
import type { Wire } from './wire.js'

/**
 * The longest nak delay, ms: JetStream takes it in int64 nanoseconds, and a longer one wraps
 * around to a delay of nothing, which redelivers at once, again and again (an eta in the year
 * 9999). A message due later comes back after this, early, and is given back again.
 */
export const MAX_NAK_DELAY_MS = 9e12

/** JetStream's ack, the body of a publish to the message's reply subject. */
const ACK = new TextEncoder().encode('+ACK')

/** What a delivery needs from the consumer that made it. */
export interface DeliveryOwner {
  readonly clock: Clock
  readonly ledger: QueueLedger
  /** The connection's fast publishes: acks go through it. */
  readonly wire: Wire
  /** The queue's delivery limit now (it may be redeclared while a delivery runs). */
  maxDeliver(): number
  /** The least delay of a nak now: after the consumer closed, until its pull requests have expired. */
  nakDelayMs(): number
  /** Dead-letters the message, then removes it from the queue. */
  kill(message: JsMsg, reason: string, deliveryCount: number): void
  /** A settle the connection could not send; the message comes back after its ack wait. */
  lost(error: unknown): void
}

/** Fields a delivery reports, read from the message's headers by the consumer. */
export interface DeliveryFields {
  queue: string
  exchange: string
  routingKey: string
  msgId: string | undefined
  deliveryCount: number
  priority: number
  publishedAt: number
}

/**
 * One delivery of a JetStream message. Only the first settle counts, and only while the
 * delivery is live: not after its ack wait ran out or a newer delivery of the same message
 * arrived, since the server would apply a late ack to that newer delivery.
 */
export class NatsDelivery implements Delivery, Tracked {
  readonly body: Uint8Array
  readonly queue: string
  readonly exchange: string
  readonly routingKey: string
  readonly msgId: string | undefined
  readonly deliveryCount: number
  readonly priority: number
  readonly publishedAt: number
  readonly #message: JsMsg
  readonly #owner: DeliveryOwner
  #deadline: number
  #done = false

  constructor(owner: DeliveryOwner, message: JsMsg, fields: DeliveryFields) {
    this.#owner = owner
    this.#message = message
    this.body = message.data
    this.queue = fields.queue
    this.exchange = fields.exchange
    this.routingKey = fields.routingKey
    this.msgId = fields.msgId
    this.deliveryCount = fields.deliveryCount
    this.priority = fields.priority
    this.publishedAt = fields.publishedAt
    this.#deadline = owner.clock.now() + owner.ledger.ackWaitMs
  }

  get live(): boolean {
    if (this.#done) return false
    if (this.#owner.clock.now() >= this.#deadline) this.#done = true
    return !this.#done
  }

  supersede(): void {
    this.#done = true
  }

  ack(): void {
    if (!this.#take()) return
    this.#owner.ledger.forget(this.#message.seq, this)
    // What `JsMsg.ack()` sends, without its round through nats.js's publish (see wire.ts).
    const message = this.#message
    const reply = (message as JsMsg & { readonly reply?: string }).reply
    this.#send(reply === undefined ? () => message.ack() : () => this.#owner.wire.publish(reply, ACK))
  }

  nak(delayMs = 0): void {
    if (typeof delayMs !== 'number' || !(delayMs >= 0) || delayMs === Infinity) {
      throw new InvalidArgumentError('delayMs must be a non-negative finite number')
    }
    if (!this.#take()) return
    // The last allowed delivery failed: dead-letter now rather than after one more delivery.
    if (this.deliveryCount >= this.#owner.maxDeliver()) return this.#kill(deliveredTooOften(this.deliveryCount))
    this.#owner.ledger.release(this.#message.seq, this)
    const delay = Math.min(Math.max(delayMs, this.#owner.nakDelayMs()), MAX_NAK_DELAY_MS)
    this.#send(() => this.#message.nak(delay > 0 ? Math.ceil(delay) : undefined))
  }

  working(): void {
    if (!this.live) return
    this.#deadline = this.#owner.clock.now() + this.#owner.ledger.ackWaitMs
    this.#send(() => this.#message.working())
  }

  term(reason: string): void {
    if (this.#take()) this.#kill(String(reason))
  }

  #take(): boolean {
    if (!this.live) return false
    this.#done = true
    return true
  }

  #kill(reason: string): void {
    this.#owner.ledger.forget(this.#message.seq, this)
    this.#owner.kill(this.#message, reason, this.deliveryCount)
  }

  #send(settle: () => void): void {
    try {
      settle()
    } catch (error) {
      this.#owner.lost(error)
    }
  }
}
