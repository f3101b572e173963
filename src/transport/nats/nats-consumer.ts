import type { Consumer as JsConsumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream'
import { millis } from '@nats-io/transport-node'
import { InvalidArgumentError } from '../../errors.js'
import type { Clock } from '../../util/clock.js'
import type { Logger } from '../../util/logger.js'
import type { Consumer, Delivery } from '../transport.js'
import { deliveredTooOften, tooOld } from '../defaults.js'
import { MAX_NAK_DELAY_MS, NatsDelivery, type DeliveryOwner } from './nats-delivery.js'
import { WORKERS } from './names.js'
import { queuedHeaders, type QueuedHeaders } from './delivered-headers.js'
import type { QueueLedger } from './queue-ledger.js'
import type { Wire } from './wire.js'

// How long one pull request waits on the server for messages before it is renewed. The
// client's minimum is 1 s; a long wait costs nothing while a node is idle.
const FETCH_EXPIRES_MS = 10_000
// The server sends an idle heartbeat on an open pull request this often; two missed end the
// request and it is asked again. A pull request lives on the consumer's leader: when that
// server dies (a cluster failover) the request is gone without a word, and without heartbeats
// the node would wait out the whole expiry before pulling from the new leader.
const FETCH_HEARTBEAT_MS = 1_000
// Pull requests open at once per consumer. Credit beyond what they carry waits for one to end:
// an open request with room takes new messages anyway, and a full one ends at once. The cap
// keeps a node that adds credit one ack at a time from filling the server's pull-request
// limit (512 per consumer across all nodes) with tiny requests.
const MAX_OPEN_FETCHES = 4
// Backoff after a failed fetch (consumer missing, connection down), doubled up to the max.
const RETRY_MIN_MS = 250
// Short: during a cluster failover fetches fail until the consumer has a new leader (seconds),
// and a long backoff would leave the node idle well after that.
const RETRY_MAX_MS = 2_000

/** What a consumer needs from its transport. */
export interface ConsumerHost {
  readonly js: JetStreamClient
  readonly clock: Clock
  readonly logger: Logger
  readonly stream: string
  readonly ledger: QueueLedger
  /** The connection's fast publishes (acks). */
  readonly wire: Wire
  /** The queue's delivery limit now. */
  maxDeliver(): number
  /** The queue's max age now, ms; Infinity for none. */
  maxAgeMs(): number
  /** Dead-letters the message with `reason`, then removes it from the queue. */
  kill(message: JsMsg, reason: string, deliveryCount: number): void
  /** Called once, when the consumer closes. */
  closed(consumer: NatsConsumer): void
  /** True once the connection is closed for good: nothing left to retry. */
  connectionClosed(): boolean
  /** Creates the queue's stream and shared consumer again (see {@link NatsConsumer}: a consumer gone from the server). */
  recreate(): Promise<void>
}

function report(error: unknown): void {
  // A throwing handler is a bug in the caller: surface it, and keep delivering to others.
  queueMicrotask(() => {
    throw error
  })
}

/**
 * A pull consumer with exact credit on the queue's shared durable consumer.
 *
 * @remarks
 * Credit turns into `fetch({ max_messages: credit })` pull requests, never into the client's
 * `consume()`, which pulls ahead and would hold messages this node has not asked for. A fetch
 * that ends (all delivered, or expired) gives back what it did not deliver, and the consumer
 * fetches again while credit remains. Messages that arrive before their Not-Before are nak'd
 * with the remaining delay, so the server holds them (across restarts of nodes and server),
 * and their credit is given back; so are those past the queue's delivery limit, which are
 * dead-lettered instead.
 */
export class NatsConsumer implements Consumer, DeliveryOwner {
  readonly queue: string
  readonly clock: Clock
  readonly ledger: QueueLedger
  readonly wire: Wire
  readonly #host: ConsumerHost
  readonly #onDelivery: (delivery: Delivery) => void
  readonly #open = new Set<ConsumerMessages>()
  /** The pull requests out: when each expires (epoch ms) and how many messages it may still bring. */
  readonly #requests = new Set<{ expiresAt: number; remaining: number }>()
  /** Once closed: until when the server may still hold a pull request of this consumer (epoch ms). */
  #staleUntil = 0
  // Fetches issued, open or still being set up.
  #fetches = 0
  #consumer: JsConsumer | undefined
  #credit = 0
  #closed = false
  #refillAt: 'now' | 'later' | undefined
  #retryMs = 0
  // Set by the first failure of a run, so an outage is reported once, not once per fetch.
  #failing = false

  constructor(host: ConsumerHost, queue: string, onDelivery: (delivery: Delivery) => void) {
    this.#host = host
    this.queue = queue
    this.clock = host.clock
    this.ledger = host.ledger
    this.wire = host.wire
    this.#onDelivery = onDelivery
    void this.#start()
  }

  pull(n: number): void {
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('n must be a positive integer')
    if (this.#closed) return
    this.#credit += n
    this.#schedule()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#credit = 0
    for (const request of this.#requests) if (request.remaining > 0) this.#staleUntil = Math.max(this.#staleUntil, request.expiresAt)
    // Closing a fetch unsubscribes its inbox; the server drops a pull request nobody listens
    // to, so nothing more is handed to this consumer.
    await Promise.all([...this.#open].map((messages) => messages.close()))
    this.#host.closed(this)
  }

  /** Renews every pull request: after a reconnect the server may have forgotten them. */
  renew(): void {
    for (const messages of this.#open) messages.stop()
  }

  maxDeliver(): number {
    return this.#host.maxDeliver()
  }

  /**
   * How long a message given back now must wait before the server hands it out again. Closing
   * a fetch only unsubscribes its inbox: nats-server 2.9 keeps the pull request until it
   * expires and delivers to it, so a message nak'd at once after a stop went to a dead inbox
   * (back only after its ack wait, 30 s) or came out twice. Given back after the last such
   * request has expired (10 s at most), it reaches a live node once.
   */
  nakDelayMs(): number {
    return this.#closed ? Math.max(0, this.#staleUntil - Date.now()) : 0
  }

  kill(message: JsMsg, reason: string, deliveryCount: number): void {
    this.#host.kill(message, reason, deliveryCount)
  }

  lost(error: unknown): void {
    this.#host.logger.warn('could not settle a delivery; it comes back after its ack wait', { queue: this.queue, error })
  }

  async #start(): Promise<void> {
    while (!this.#closed && !this.#host.connectionClosed()) {
      try {
        const consumer = await this.#host.js.consumers.get(this.#host.stream, WORKERS)
        const ackWait = (await consumer.info(true)).config.ack_wait
        if (ackWait !== undefined) this.ledger.ackWaitMs = millis(ackWait)
        this.#consumer = consumer
        this.#schedule()
        return
      } catch (error) {
        if (!this.#failing) this.#host.logger.warn('cannot open the queue consumer; retrying', { queue: this.queue, error })
        this.#failing = true
        if (/consumer not found/i.test(String((error as Error)?.message))) await this.#host.recreate().catch(() => undefined)
        await new Promise((resolve) => setTimeout(resolve, this.#backoff()).unref())
      }
    }
  }

  #backoff(): number {
    this.#retryMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.#retryMs * 2))
    return this.#retryMs
  }

  /** Coalesces refills: credit given back during one turn of the event loop makes one fetch. */
  #schedule(delayMs = 0): void {
    if (this.#refillAt === 'now' || (this.#refillAt === 'later' && delayMs > 0)) return
    this.#refillAt = delayMs > 0 ? 'later' : 'now'
    const run = () => {
      this.#refillAt = undefined
      this.#refill()
    }
    if (delayMs > 0) setTimeout(run, delayMs).unref()
    else setImmediate(run)
  }

  #refill(): void {
    if (this.#closed || this.#consumer === undefined || this.#credit <= 0) return
    if (this.#fetches >= MAX_OPEN_FETCHES) return
    const n = this.#credit
    this.#credit = 0
    this.#fetches++
    void this.#fetch(this.#consumer, n)
  }

  async #fetch(consumer: JsConsumer, n: number): Promise<void> {
    let messages: ConsumerMessages | undefined
    let failed = false
    const request = { expiresAt: Date.now() + FETCH_EXPIRES_MS, remaining: n }
    this.#requests.add(request)
    try {
      // A callback, not the iterator: every message of one socket read is handled in the same
      // turn, so their acks leave in one write (the iterator resumes once per message, and the
      // client flushed, one socket write, after each).
      messages = await consumer.fetch({
        max_messages: n,
        expires: FETCH_EXPIRES_MS,
        idle_heartbeat: FETCH_HEARTBEAT_MS,
        callback: (message: JsMsg) => {
          request.remaining--
          if (this.#closed) {
            // Handed over as the consumer closed: back to the queue, for a live pull request.
            const delayMs = this.nakDelayMs()
            this.#settle(() => message.nak(delayMs > 0 ? Math.ceil(delayMs) : undefined))
          } else if (!this.#arriveSafely(message)) {
            this.#credit++
            this.#schedule()
          }
        },
      } as Parameters<JsConsumer['fetch']>[0])
      this.#open.add(messages)
      if (this.#closed) messages.stop()
      const error = await messages.closed()
      if (error) throw error
      this.#retryMs = 0
      this.#failing = false
    } catch (error) {
      failed = true
      // The shared consumer is gone (deleted by hand, or lost with the only server that held an
      // R1 stream): make it again, or this node would retry a dead consumer forever.
      if (!this.#closed && this.#consumer === consumer && /consumer (deleted|not found)/i.test(String((error as Error)?.message))) {
        this.#consumer = undefined
        void this.#start()
      }
      if (!this.#closed && !this.#failing) {
        this.#failing = true
        this.#host.logger.warn('fetching from the queue failed; retrying', { queue: this.queue, error })
      }
    } finally {
      this.#fetches--
      // Ended (fulfilled, expired, or its connection gone): the server holds it no more.
      this.#requests.delete(request)
      if (messages !== undefined) this.#open.delete(messages)
      if (!this.#closed && !this.#host.connectionClosed()) {
        this.#credit += request.remaining
        this.#schedule(failed ? this.#backoff() : 0)
      }
    }
  }

  #settle(send: () => void): void {
    try {
      send()
    } catch (error) {
      this.lost(error)
    }
  }

  /**
   * {@link #arrive}, with nothing thrown back into the client: a throw in a fetch's callback
   * ends the whole fetch, and the rest of its batch would wait out its ack wait, again and
   * again. A message that cannot be read is dead-lettered alone.
   */
  #arriveSafely(message: JsMsg): boolean {
    try {
      return this.#arrive(message)
    } catch (error) {
      const reason = `unreadable message: ${(error as Error)?.message ?? String(error)}`
      this.#host.logger.error('dead-lettered a message that could not be read', { queue: this.queue, reason })
      try {
        this.ledger.forget(message.seq)
        this.kill(message, reason, message.info.deliveryCount)
      } catch (cause) {
        this.lost(cause)
      }
      return false
    }
  }

  /** Handles one arrival; true when it was delivered (and used its credit). */
  #arrive(message: JsMsg): boolean {
    const seq = message.seq
    let fields: ReturnType<typeof readHeaders>
    try {
      // The client throws on headers it cannot parse (a space in a name, a bare CR or LF); a
      // bad %-escape throws in decodeURIComponent.
      fields = readHeaders(queuedHeaders(message), this.queue)
    } catch (error) {
      this.ledger.forget(seq)
      this.kill(message, `unreadable NATS headers: ${(error as Error)?.message ?? String(error)}`, Math.max(1, message.info.deliveryCount))
      return false
    }
    const { notBefore } = fields
    const now = this.clock.now()
    if (notBefore > now) {
      this.ledger.defer(seq)
      this.#settle(() => message.nak(Math.ceil(Math.min(notBefore - now, MAX_NAK_DELAY_MS))))
      return false
    }
    // A message sent with a delay arrives early once (see class doc) on some node: on another,
    // whose ledger did not see it, it is assumed rather than counted as a failed delivery.
    const publishedAt = message.info.timestampNanos / 1e6
    const deferrals = this.ledger.deferrals(seq) || (notBefore > publishedAt ? 1 : 0)
    const deliveryCount = Math.max(1, message.info.deliveryCount - deferrals)
    if (deliveryCount > this.maxDeliver()) {
      // Its last delivery ran out of ack wait: that one counted, this one is one too many.
      this.ledger.forget(seq)
      this.kill(message, deliveredTooOften(deliveryCount - 1), deliveryCount - 1)
      return false
    }
    const maxAgeMs = this.#host.maxAgeMs()
    if (maxAgeMs !== Infinity) {
      // Counted from when it was due: a delayed task is not old for having waited its delay.
      const due = Math.max(notBefore, publishedAt)
      if (now - due > maxAgeMs) {
        this.ledger.forget(seq)
        this.kill(message, tooOld(now - due, maxAgeMs), deliveryCount)
        return false
      }
    }
    const delivery = new NatsDelivery(this, message, {
      queue: this.queue,
      exchange: fields.exchange,
      routingKey: fields.routingKey,
      msgId: fields.msgId,
      deliveryCount,
      priority: fields.priority,
      publishedAt: Math.max(message.info.timestampNanos / 1e6, notBefore),
    })
    this.ledger.track(seq, delivery)
    try {
      this.#onDelivery(delivery)
    } catch (error) {
      report(error)
    }
    return true
  }
}

/** What a queued message's headers say; throws what the client or the URI decoding throws. */
function readHeaders(h: QueuedHeaders, queue: string): { notBefore: number; exchange: string; routingKey: string; msgId: string | undefined; priority: number } {
  const notBefore = Number(h.notBefore || 0)
  const priority = Number(h.priority || 0)
  // Both headers are left out for the default exchange, where the routing key is the queue.
  const { exchange } = h
  return {
    notBefore: Number.isFinite(notBefore) ? notBefore : 0,
    exchange: exchange !== undefined ? decodeURIComponent(exchange) : '',
    routingKey: exchange !== undefined ? decodeURIComponent(h.routingKey) : queue,
    msgId: h.msgId || undefined,
    priority: Number.isInteger(priority) && priority >= 0 && priority <= 9 ? priority : 0,
  }
}
