/** A message as one queue stores it; fanout gives each queue its own copy of this record. */
export interface StoredMessage {
  readonly body: Uint8Array
  readonly exchange: string
  readonly routingKey: string
  readonly msgId: string | undefined
  readonly priority: number
  /** Deliveries made so far. */
  deliveryCount: number
  /** When the broker stored it (clock ms). */
  storedAt: number
  /** When a delayed message becomes ready (clock ms). */
  due: number
  /** Tie-break among equal `due`, so delayed messages stay FIFO. */
  seq: number
}
