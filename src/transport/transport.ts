/**
 * The mailbox contract: exchanges, queues, durable delivery with explicit acknowledgement,
 * and a light publish/subscribe channel for events and remote control.
 *
 * @remarks
 * Shaped after JetStream so that NATS implements it without change: a queue is a durable
 * work queue consumed by competing pull consumers; every delivery must be acked, nak'd
 * (optionally with a delay), extended with `working()`, or terminated; an unacked delivery
 * comes back after the queue's ack wait; publishing with a `msgId` already seen within the
 * duplicate window is dropped. The contract deliberately leaves out priorities across queues,
 * transactions, and ordering guarantees beyond FIFO per queue and priority level.
 * @module
 */

/** How an exchange chooses the queues a message goes to. */
export type ExchangeType = 'direct' | 'topic' | 'fanout'

/** An exchange and its type. The default exchange `''` routes by queue name. */
export interface ExchangeDeclaration {
  name: string
  type: ExchangeType
}

/** A binding of a queue to an exchange with a binding key (`*`/`#` patterns on topic exchanges). */
export interface Binding {
  exchange: string
  key: string
}

/** A durable queue. */
export interface QueueDeclaration {
  name: string
  /** Extra bindings; every queue is also reachable through the default exchange by its name. */
  bindings?: Binding[]
  /** How long a delivery may stay unacked before it is redelivered, ms. */
  ackWaitMs?: number
  /** After this many deliveries a message is dead-lettered (reason `max-deliveries: delivered N times`). */
  maxDeliver?: number
  /**
   * A message delivered more than this long after it was sent (or after its Not-Before, when
   * delayed), ms, is dead-lettered instead (reason `max-age: ...`). Honoured by the NATS
   * transport; the memory transport keeps no such limit.
   */
  maxAgeMs?: number
}

/** A message to publish. */
export interface OutgoingMessage {
  /** Exchange name; `''` is the default exchange, which routes by queue name. */
  exchange: string
  routingKey: string
  body: Uint8Array
  /** Idempotency key: a second publish with the same id within the duplicate window is dropped. */
  msgId?: string
  /** Do not deliver before this time (epoch ms). The transport holds the message, not the worker. */
  notBefore?: number
  /** 0 (lowest) to 9 (highest); higher is delivered first among ready messages. */
  priority?: number
}

/** What a publish did. */
export interface PublishAck {
  /** The queues the message was stored in (empty when no queue is bound). */
  queues: string[]
  /** True when `msgId` was seen before and the message was dropped. */
  duplicate: boolean
}

/** One delivery of a message to a consumer. Exactly one of ack / nak / term settles it. */
export interface Delivery {
  readonly body: Uint8Array
  readonly queue: string
  readonly exchange: string
  readonly routingKey: string
  readonly msgId: string | undefined
  /** 1 on first delivery, incremented on every redelivery. */
  readonly deliveryCount: number
  readonly priority: number
  /**
   * When the message became ready (epoch ms): when the broker stored it, or its not-before
   * time when later. The worker's queue-wait metric counts from here. Absent when unknown.
   */
  readonly publishedAt?: number
  /** Done: remove the message. */
  ack(): void
  /** Not done: deliver again, now or after `delayMs`. */
  nak(delayMs?: number): void
  /** Still working: restart the ack wait. */
  working(): void
  /** Never deliver again: dead-letter the message with `reason`. */
  term(reason: string): void
}

/** A pull consumer on one queue. Deliveries arrive through the handler given to `consume`. */
export interface Consumer {
  /** Asks for up to `n` more deliveries (credit); no more than the credit is ever delivered. */
  pull(n: number): void
  /** Stops delivering; unsettled deliveries stay in flight until settled or their ack wait runs out. */
  close(): Promise<void>
}

/** A dead-lettered message and why. */
export interface DeadLetter {
  queue: string
  body: Uint8Array
  reason: string
  deliveryCount: number
  at: number
}

/** What a queue holds now, as {@link Transport.queueStats} reads it from the broker. */
export interface QueueStats {
  /** Waiting to be delivered, due now. */
  ready: number
  /** Delivered and not settled yet. */
  inFlight: number
  /** Waiting for a not-before time (countdown, eta, a retry's delay). */
  delayed: number
  /** Dead-lettered. */
  dead: number
  /** Age of the oldest ready message, ms (0 when none is ready). */
  oldestAgeMs: number
}

/** A subscription on the publish/subscribe channel. */
export interface Subscription {
  unsubscribe(): void
  /** Settles once the subscription is in place: a message sent after it, from any connection, reaches it. */
  readonly ready: Promise<void>
}

/**
 * Handler of publish/subscribe messages. `reply` is given when the message came from
 * {@link Transport.request}: whatever it is called with goes back to the requester.
 */
export type SubscriptionHandler = (subject: string, data: Uint8Array, reply?: (data: Uint8Array) => void) => void

/** Options of {@link Transport.request}. */
export interface RequestOptions {
  /** How long to collect replies, ms. */
  timeoutMs: number
  /** Stop as soon as this many replies came. Default: collect until the timeout. */
  max?: number
}

/** A live, local view of the revoked task ids: a synchronous check per message. */
export interface RevokedIds {
  has(id: string): boolean
  /** The ids currently revoked. */
  list(): string[]
  /**
   * Counts `id` as revoked until `untilMs` (clock ms) in this view at once: a revocation heard
   * of by broadcast, which can arrive before the stored one reaches the view.
   */
  note(id: string, untilMs: number): void
  close(): void
}

/** The contract every broker implements. */
export interface Transport {
  /** `memory` or `nats`. */
  readonly kind: string
  connect(): Promise<void>
  close(): Promise<void>

  /** Declares an exchange; idempotent; redeclaring with another type is an error. */
  declareExchange(exchange: ExchangeDeclaration): Promise<void>
  /** Declares a queue and its bindings; idempotent, new bindings are added. */
  declareQueue(queue: QueueDeclaration): Promise<void>
  /** Routes a message through an exchange to every bound queue. */
  publish(message: OutgoingMessage): Promise<PublishAck>
  /**
   * {@link publish}, done before it returns, for a transport whose broker is in this process:
   * what it would resolve to, or what it would reject with, thrown. Absent where publishing
   * waits on a server.
   */
  publishNow?(message: OutgoingMessage): PublishAck
  /** Starts a pull consumer on a declared queue. */
  consume(queue: string, onDelivery: (delivery: Delivery) => void): Consumer
  /**
   * How long, ms, a delivery from `queue` may stay unsettled before the broker hands it out
   * again, as the broker has it (which may differ from this transport's default); `undefined`
   * before the queue is declared here. A worker renews running tasks well within it.
   */
  leaseMs?(queue: string): number | undefined
  /** Drops every ready and delayed message of a queue (not those in flight); returns how many. */
  purge(queue: string): Promise<number>
  /** Messages ready or delayed in a queue (not counting those in flight). */
  depth(queue: string): Promise<number>
  /**
   * What a declared queue holds now, for metrics read at scrape time. Optional: a transport
   * without it reports no queue metrics.
   */
  queueStats?(queue: string): Promise<QueueStats>
  /**
   * Resolves once the broker answered a round trip (NATS: PING/PONG); what a readiness probe
   * asks. Optional: without it a probe asks for a queue's depth.
   */
  ping?(): Promise<void>
  /** Dead-lettered messages, oldest first. */
  deadLetters(queue?: string): Promise<DeadLetter[]>
  /**
   * Puts the dead letters of `queue` back into it, oldest first, as new messages (their
   * delivery count starts again), and removes them from the dead letters. Returns how many.
   */
  replayDeadLetters(queue: string): Promise<number>

  /**
   * Marks a task id revoked for `ttlMs`, where every node sees it, including nodes started
   * later. Messages of a revoked id are discarded when delivered.
   */
  revoke(id: string, ttlMs: number): Promise<void>
  /** A view of the revoked ids kept up to date as ids are revoked and expire. */
  revoked(): Promise<RevokedIds>

  /** Publishes on the non-durable channel (events, control, replies). */
  broadcast(subject: string, data: Uint8Array): void
  /** Subscribes with a NATS-style pattern: `*` one token, `>` the rest. */
  subscribe(pattern: string, handler: SubscriptionHandler): Subscription
  /**
   * Publishes on the non-durable channel with a reply channel, and collects what subscribers
   * send back through their `reply` until `timeoutMs` runs out or `max` replies came
   * (remote control's scatter/gather). No subscriber means no replies, not an error.
   */
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Uint8Array[]>

  /**
   * Reserves the next free slot of the rate limit named `key`, shared by every process on this
   * broker, and answers how many ms to wait for it (0 = now). The slot is `max(now, nextFree)`
   * and `nextFree` moves on by `intervalMs`, so callers that wait are spread out by the
   * interval instead of waking together. Rejects with InvalidArgumentError for an empty key or
   * an interval that is not a positive finite number.
   *
   * @remarks
   * Optional: a worker node falls back to a per-node limit on a transport without it. The
   * limit lives in the broker, not the result backend, because every node has a broker while
   * the backend may store nothing (`rpc://`, none) or sit elsewhere. Slots are epoch ms: the
   * nodes' clocks are assumed synchronised (NTP).
   */
  reserveRate?(key: string, intervalMs: number): Promise<number>
}
