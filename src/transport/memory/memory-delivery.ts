import { InvalidArgumentError } from '../../errors.js'
import type { Delivery } from '../transport.js'
import type { StoredMessage } from './stored-message.js'

/** What settles a delivery: its queue (a port, so the queue and its deliveries do not import each other). */
export interface DeliveryOwner {
  readonly name: string
  ack(delivery: MemoryDelivery): void
  nak(delivery: MemoryDelivery, delayMs: number): void
  working(delivery: MemoryDelivery): void
  term(delivery: MemoryDelivery, reason: string): void
}

/**
 * One delivery of a stored message. Settling goes through the queue, which honours only the
 * first settle of a delivery still in flight: a delivery whose ack wait ran out is no longer
 * in flight, so settling it late cannot touch the message's next delivery.
 */
export class MemoryDelivery implements Delivery {
  readonly body: Uint8Array
  readonly queue: string
  readonly exchange: string
  readonly routingKey: string
  readonly msgId: string | undefined
  readonly deliveryCount: number
  readonly priority: number
  readonly publishedAt: number
  /** @internal The stored message this delivers. */
  readonly message: StoredMessage
  /** @internal When the ack wait runs out (clock ms); moved by `working()`. */
  deadline: number
  readonly #owner: DeliveryOwner

  constructor(owner: DeliveryOwner, message: StoredMessage, deadline: number) {
    this.#owner = owner
    this.message = message
    this.deadline = deadline
    this.body = message.body
    this.queue = owner.name
    this.exchange = message.exchange
    this.routingKey = message.routingKey
    this.msgId = message.msgId
    this.deliveryCount = message.deliveryCount
    this.priority = message.priority
    this.publishedAt = Math.max(message.storedAt, message.due)
  }

  ack(): void {
    this.#owner.ack(this)
  }

  nak(delayMs = 0): void {
    if (typeof delayMs !== 'number' || !(delayMs >= 0) || delayMs === Infinity) {
      throw new InvalidArgumentError('delayMs must be a non-negative finite number')
    }
    this.#owner.nak(this, delayMs)
  }

  working(): void {
    this.#owner.working(this)
  }

  term(reason: string): void {
    this.#owner.term(this, String(reason))
  }
}
