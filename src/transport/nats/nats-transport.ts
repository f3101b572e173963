import { type NatsConnection, type Status, type Subscription as NatsSub } from '@nats-io/transport-node'
import { TRANSPORT_DEFAULTS } from '../defaults.js'
import { InvalidArgumentError, TransportError } from '../../errors.js'
import { systemClock, type Clock } from '../../util/clock.js'
import { consoleLogger, type Logger } from '../../util/logger.js'
import type {
  Consumer,
  DeadLetter,
  QueueStats,
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
import { collectReplies } from '../collect-replies.js'
import { isReplySubject } from '../../protocol/validate-envelope.js'
import { connectNats, inboxOf, serverOf, startupRequests, STARTUP_RETRY_MS } from './connect.js'
import { permissionsOf, refusalIn, refusedBy } from './permission-watch.js'
import type { NatsConnectOptions } from './connect.js'
import { DEFAULT_NAMESPACE, isPrefix, Names, WORKERS } from './names.js'
import { NatsConsumer } from './nats-consumer.js'
import { QueueLedger } from './queue-ledger.js'
import { isReplicas } from './replicas.js'
import { ensureQueueStream, purgeQueue, queueDepth, queueStats } from './queue-stream.js'
import { checkPayload, messageHeaders, openSession, storeCopy, type Session } from './session.js'
import * as check from '../validate.js'
import { wireOf } from './wire.js'

/** Options of {@link NatsTransport}. */
export interface NatsTransportOptions {
  /** `nats://[user:pass@]host:port[,host:port]` or `tls://...`; needed when no `connection` is given. */
  url?: string
  /** Connection options used with `url` (credentials, `credsFile`, `nkeySeedFile`, `tls` files, `inboxPrefix`); not with `connection`. */
  connectionOptions?: NatsConnectOptions
  /** A connection to share (with the result backend, say); `close()` leaves it open. */
  connection?: NatsConnection
  /** Time for Not-Before checks, ack-wait bookkeeping, dead-letter times, revocations and rate limits. Default: the system clock. */
  clock?: Clock
  /** Ack wait of queues declared through this transport without one, ms. Default 30 000. */
  ackWaitMs?: number
  /** Delivery limit of queues declared through this transport without one. Default: unlimited. */
  maxDeliver?: number
  /** How long a `msgId` makes later publishes duplicates, ms, for queues this transport creates. Default 120 000. */
  duplicateWindowMs?: number
  /**
   * Namespace of every stream, bucket and subject, so apps and tests can share a server:
   * letters, digits, `_`, `-`. Stream names use it upper-cased, so keep prefixes that differ
   * only by case apart. Default `celeriac`.
   */
  prefix?: string
  /** Where connection trouble is reported. Default: warnings to stderr. */
  logger?: Logger
  /**
   * Copies JetStream keeps of every stream, bucket and durable consumer this transport
   * creates (1 to 5); an existing stream with another count is changed where the server allows.
   * Default: 3 on a cluster of three or more JetStream servers, else 1 (see replicas.ts).
   */
  replicas?: number
}

/** Defaults of {@link NatsTransportOptions}; ack wait and duplicate window are those of NATS. */
export const natsTransportDefaults = {
  ...TRANSPORT_DEFAULTS,
  prefix: DEFAULT_NAMESPACE,
} as const satisfies Required<Omit<NatsTransportOptions, 'url' | 'connection' | 'connectionOptions' | 'clock' | 'logger' | 'replicas'>>

/**
 * The mailbox contract on NATS JetStream (server 2.9 or later).
 *
 * @remarks
 * A queue is a work-queue stream with one durable pull consumer shared by every node;
 * exchanges and bindings live in a KV bucket that every transport mirrors, and routing happens
 * in the publisher (see `topology.ts`). Delayed messages wait on the server as naks with a
 * delay; dead letters go to a stream of their own; cluster-wide rate limits are KV keys moved
 * on by compare-and-set (see `rate-limits.ts`). Priorities are not supported (2.9 has
 * none): messages are delivered in FIFO order whatever their priority.
 * @example
 * const transport = new NatsTransport({ url: 'nats://127.0.0.1:4222', ackWaitMs: 60_000 })
 * await transport.connect()
 * await transport.declareQueue({ name: 'celery' })
 * await transport.publish({ exchange: '', routingKey: 'celery', body })
 * transport.consume('celery', (delivery) => delivery.ack()).pull(10)
 */
export class NatsTransport implements Transport {
  readonly kind = 'nats'
  readonly #url: string | undefined
  readonly #connectionOptions: NatsConnectOptions | undefined
  readonly #shared: NatsConnection | undefined
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #ackWaitMs: number
  readonly #maxDeliver: number
  readonly #duplicateWindowMs: number
  readonly #names: Names
  readonly #replicas: number | undefined
  #session: Session | undefined
  #connecting: Promise<Session> | undefined
  // Counts closes, so a connect that a close overtook does not install its session.
  #closes = 0
  readonly #consumers = new Set<NatsConsumer>()
  readonly #subscriptions = new Set<NatsSub>()
  readonly #views = new Set<RevokedIds>()
  readonly #ledgers = new Map<string, QueueLedger>()
  /** Queues whose consumer's ack wait was found to differ from brokerAckWait, said once. */
  readonly #leaseWarned = new Set<string>()
  #stopRefusalLog = () => {}
  // Between a disconnect and the reconnect that follows it (see #watch).
  #disconnected = false

  constructor(options: NatsTransportOptions) {
    const ackWaitMs = options?.ackWaitMs ?? natsTransportDefaults.ackWaitMs
    const maxDeliver = options?.maxDeliver ?? natsTransportDefaults.maxDeliver
    const duplicateWindowMs = options?.duplicateWindowMs ?? natsTransportDefaults.duplicateWindowMs
    const prefix = options?.prefix ?? natsTransportDefaults.prefix
    if (typeof options?.url !== 'string' && options?.connection === undefined) throw new InvalidArgumentError('options.url must be a NATS URL when no options.connection is given')
    if (!check.isPositive(ackWaitMs)) throw new InvalidArgumentError('options.ackWaitMs must be a positive finite number')
    if (!check.isMaxDeliver(maxDeliver)) throw new InvalidArgumentError('options.maxDeliver must be a positive integer')
    if (typeof duplicateWindowMs !== 'number' || !(duplicateWindowMs >= 0) || duplicateWindowMs === Infinity) {
      throw new InvalidArgumentError('options.duplicateWindowMs must be a non-negative finite number')
    }
    if (!isPrefix(prefix)) throw new InvalidArgumentError('options.prefix must be letters, digits, "_" or "-"')
    if (options.replicas !== undefined && !isReplicas(options.replicas)) throw new InvalidArgumentError('options.replicas must be an integer from 1 to 5')
    this.#replicas = options.replicas
    this.#url = options.url
    this.#connectionOptions = options.connectionOptions
    this.#shared = options.connection
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? consoleLogger('warn')
    this.#ackWaitMs = ackWaitMs
    this.#maxDeliver = maxDeliver
    this.#duplicateWindowMs = duplicateWindowMs
    this.#names = new Names(prefix)
  }

  /** Connects (or reconnects after `close`), loads the topology and creates the dead-letter stream. */
  async connect(): Promise<void> {
    if (this.#session !== undefined) return
    const closes = this.#closes
    this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined))
    const session = await this.#connecting
    if (closes !== this.#closes) throw new TransportError('nats transport was closed while connecting')
    this.#session = session
  }

  async close(): Promise<void> {
    this.#closes++
    const session = this.#session ?? (await this.#connecting?.catch(() => undefined))
    this.#session = undefined
    if (session === undefined) return
    for (const consumer of this.#consumers) await consumer.close()
    for (const sub of this.#subscriptions) sub.unsubscribe()
    this.#subscriptions.clear()
    for (const view of this.#views) view.close()
    this.#views.clear()
    session.topology.stop()
    session.status.stop?.()
    this.#stopRefusalLog()
    if (this.#shared === undefined) {
      // Settles sent just before closing must reach the server; a dead server gets 1 s.
      await Promise.race([session.nc.flush().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1_000).unref())])
      await session.nc.close()
    }
  }

  async declareExchange(exchange: ExchangeDeclaration): Promise<void> {
    const { topology } = this.#use()
    check.validateExchange(exchange)
    await topology.declareExchange(exchange.name, exchange.type)
  }

  async declareQueue(queue: QueueDeclaration): Promise<void> {
    const { nc, topology, streams } = this.#use()
    check.validateQueue(queue)
    if (queue.maxAgeMs !== undefined && !check.isPositive(queue.maxAgeMs)) throw new InvalidArgumentError('queue.maxAgeMs must be a positive finite number')
    await topology.checkBindings(queue)
    // Apps declare their queues as they start: asked again while JetStream elects leaders, as the setup is.
    const ask = startupRequests(nc, { onRetry: this.#onRetry(nc) })
    let lease: number
    try {
      lease = await ask(`declaring queue "${queue.name}" (stream ${this.#names.queueStream(queue.name)})`, () => ensureQueueStream(streams, queue.name, queue.ackWaitMs, this.#ackWaitMs))
    } catch (error) {
      throw refusalIn(error) ?? new TransportError(`cannot declare queue "${queue.name}": ${(error as Error).message}`, { cause: error })
    }
    try {
      await ask(`recording queue "${queue.name}" in the topology bucket`, () => topology.recordQueue(queue, this.#maxDeliver))
    } catch (error) {
      throw refusalIn(error) ?? (error instanceof TransportError ? error : new TransportError(`cannot record queue "${queue.name}": ${(error as Error).message}`, { cause: error }))
    }
    // The ack wait in force is the consumer's, fixed when it was made unless the declaration
    // names one: consumers here disarm deliveries by it, and the worker renews leases by it.
    this.#ledger(queue.name).ackWaitMs = lease
    if (queue.ackWaitMs === undefined && lease !== this.#ackWaitMs && !this.#leaseWarned.has(queue.name)) {
      this.#leaseWarned.add(queue.name)
      this.#logger.warn(`queue "${queue.name}": the broker redelivers an unacked task after ${lease / 1000} s, the ack wait its consumer was made with, not brokerAckWait (${this.#ackWaitMs / 1000} s); running tasks are renewed by the broker's value. To change it, delete the queue's consumer (${WORKERS}) while no node runs`)
    }
  }

  leaseMs(queue: string): number | undefined {
    return this.#ledgers.get(queue)?.ackWaitMs
  }

  #ledger(queue: string): QueueLedger {
    let ledger = this.#ledgers.get(queue)
    if (ledger === undefined) this.#ledgers.set(queue, (ledger = new QueueLedger(this.#ackWaitMs)))
    return ledger
  }

  publish(message: OutgoingMessage): Promise<PublishAck> {
    try {
      const session = this.#use()
      check.validateMessage(message)
      checkPayload(session.nc, message)
      // The default exchange to a queue this process knows, nearly every send: nothing to
      // route or wait for, so no async frame, no arrays and no Promise.all for the one copy.
      const queue = message.routingKey
      if (message.exchange === '' && session.topology.queue(queue) !== undefined) {
        return storeCopy(session, queue, message, messageHeaders(message)).then((stored) => (stored ? { queues: [queue], duplicate: false } : { queues: [], duplicate: true }))
      }
      return this.#publishRouted(session, message)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  async #publishRouted(session: Session, message: OutgoingMessage): Promise<PublishAck> {
    const targets = await session.topology.route(message.exchange, message.routingKey)
    if (targets.length === 0) return { queues: [], duplicate: false }
    const h = messageHeaders(message)
    const stored = await Promise.all(targets.map((queue) => storeCopy(session, queue, message, h)))
    const queues = targets.filter((_, i) => stored[i])
    return { queues, duplicate: queues.length === 0 }
  }

  consume(queue: string, onDelivery: (delivery: Delivery) => void): Consumer {
    const session = this.#use()
    check.nonEmpty(queue, 'queue')
    if (typeof onDelivery !== 'function') throw new InvalidArgumentError('onDelivery must be a function')
    // Synchronous by contract, so only what this process knows counts: declare first.
    if (session.topology.queue(queue) === undefined) throw new TransportError(`queue "${queue}" is not declared`)
    const ledger = this.#ledger(queue)
    const consumer = new NatsConsumer(
      {
        js: session.js,
        clock: this.#clock,
        logger: this.#consumerLogger,
        stream: this.#names.queueStream(queue),
        ledger,
        wire: wireOf(session.nc),
        maxDeliver: () => session.topology.queue(queue)?.maxDeliver ?? Infinity,
        maxAgeMs: () => session.topology.queue(queue)?.maxAgeMs ?? Infinity,
        kill: (message, reason, count) => session.deadLetters.kill(queue, message, reason, count, this.#clock.now(), this.#logger),
        closed: (c) => this.#consumers.delete(c),
        connectionClosed: () => session.nc.isClosed(),
        recreate: async () => void (await ensureQueueStream(session.streams, queue, ledger.ackWaitMs, this.#ackWaitMs)),
      },
      queue,
      onDelivery,
    )
    this.#consumers.add(consumer)
    return consumer
  }

  async purge(queue: string): Promise<number> {
    const session = await this.#declared(queue)
    try {
      return await purgeQueue(session.streams, queue)
    } catch (error) {
      throw refusalIn(error) ?? new TransportError(`cannot purge queue "${queue}": ${(error as Error).message}`, { cause: error })
    }
  }

  async depth(queue: string): Promise<number> {
    const session = await this.#declared(queue)
    try {
      return await queueDepth(session.streams, queue)
    } catch (error) {
      throw refusalIn(error) ?? new TransportError(`cannot read the depth of queue "${queue}": ${(error as Error).message}`, { cause: error })
    }
  }

  ping(): Promise<void> {
    return this.#use().nc.flush()
  }

  async queueStats(queue: string): Promise<QueueStats> {
    const session = await this.#declared(queue)
    try {
      const [stats, dead] = await Promise.all([queueStats(session.streams, queue), session.deadLetters.count(queue)])
      return { ...stats, dead }
    } catch (error) {
      throw new TransportError(`cannot read the stats of queue "${queue}": ${(error as Error).message}`, { cause: error })
    }
  }

  async deadLetters(queue?: string): Promise<DeadLetter[]> {
    const { deadLetters } = this.#use()
    if (queue !== undefined) check.nonEmpty(queue, 'queue')
    try {
      return await deadLetters.list(queue)
    } catch (error) {
      throw refusalIn(error) ?? new TransportError(`cannot read dead letters: ${(error as Error).message}`, { cause: error })
    }
  }

  async replayDeadLetters(queue: string): Promise<number> {
    const { deadLetters } = this.#use()
    check.nonEmpty(queue, 'queue')
    try {
      return await deadLetters.replay(queue, (body) => this.publish({ exchange: '', routingKey: queue, body }))
    } catch (error) {
      throw refusalIn(error) ?? new TransportError(`cannot replay the dead letters of queue "${queue}": ${(error as Error).message}`, { cause: error })
    }
  }

  async revoke(id: string, ttlMs: number): Promise<void> {
    const { revoked } = this.#use()
    check.nonEmpty(id, 'id')
    if (!check.isPositive(ttlMs)) throw new InvalidArgumentError('ttlMs must be a positive finite number')
    await revoked.revoke(id, ttlMs)
  }

  async revoked(): Promise<RevokedIds> {
    const view = await this.#use().revoked.view()
    this.#views.add(view)
    return {
      has: (id) => view.has(id),
      list: () => view.list(),
      note: (id, untilMs) => view.note(id, untilMs),
      close: () => {
        view.close()
        this.#views.delete(view)
      },
    }
  }

  /** Publishes on core NATS under `<prefix>.bus.`: fast, not persisted. */
  broadcast(subject: string, data: Uint8Array): void {
    const { nc } = this.#use()
    check.validateSubject(subject)
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('data must be a Uint8Array')
    wireOf(nc).publish(this.#names.busSubject(subject), data)
  }

  subscribe(pattern: string, handler: SubscriptionHandler): Subscription {
    const { nc } = this.#use()
    check.validatePattern(pattern)
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function')
    const names = this.#names
    const sub = nc.subscribe(names.busSubject(pattern), {
      callback: (error, msg) => {
        if (error !== null) return
        // A reply inbox names where this process publishes: one that is the broker's or
        // celeriac's state (see isReplySubject) gets no answer.
        const inbox = isReplySubject(msg.reply) ? msg.reply : undefined
        try {
          handler(names.fromBus(msg.subject), msg.data, inbox ? (data) => nc.publish(inbox, data) : undefined)
        } catch (thrown) {
          queueMicrotask(() => {
            throw thrown
          })
        }
      },
    })
    this.#subscriptions.add(sub)
    return {
      // The flush round trip means the server has processed the SUB, and has refused it by then if it does.
      ready: refusedBy(nc, names.busSubject(pattern), () => nc.flush()),
      unsubscribe: () => {
        sub.unsubscribe()
        this.#subscriptions.delete(sub)
      },
    }
  }

  /** Publishes with a reply inbox and collects the replies that reach it. */
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Uint8Array[]> {
    const { nc } = this.#use()
    check.validateRequest(subject, data, options)
    return collectReplies(options, (push, fail) => {
      const inbox = inboxOf(nc)
      const bus = this.#names.busSubject(subject)
      // A user not allowed to send this (or to hear the replies) gets the refusal, not silence.
      const stopWatching = permissionsOf(nc).on((refused) => {
        fail(refused)
        return true
      }, [bus, inbox])
      // The server answers a request nobody hears with a 503 status message: that is no reply.
      const sub = nc.subscribe(inbox, { callback: (error, msg) => void (error === null && !msg.headers?.hasError && push(msg.data)) })
      nc.publish(bus, data, { reply: inbox })
      return () => {
        stopWatching()
        sub.unsubscribe()
      }
    })
  }

  /** Reserves a slot of a rate limit kept in the `<prefix>-rate` KV bucket (see rate-limits.ts). */
  async reserveRate(key: string, intervalMs: number): Promise<number> {
    const { rateLimits } = this.#use()
    check.validateRate(key, intervalMs)
    return rateLimits.reserve(key, intervalMs)
  }

  async #open(): Promise<Session> {
    const nc = this.#shared ?? (await connectNats(this.#url!, this.#connectionOptions))
    try {
      // A refusal no caller waits on is logged: a refused plain publish otherwise fails in silence.
      const stopWatching = permissionsOf(nc).onUnclaimed((refused) => this.#logger.warn(refused.message))
      const session = await openSession(nc, this.#names, this.#clock, this.#duplicateWindowMs, this.#replicas, this.#onRetry(nc)).catch((error: unknown) => {
        stopWatching()
        throw refusalIn(error) ?? error
      })
      void this.#watch(nc, session.status)
      this.#stopRefusalLog = stopWatching
      return session
    } catch (error) {
      if (this.#shared === undefined) await nc.close().catch(() => {})
      throw error
    }
  }

  /** Says once per setup or declaration that JetStream is not answering yet, and for how long it is asked again. */
  #onRetry(nc: NatsConnection) {
    return (what: string, reason: string, error: unknown) =>
      this.#logger.warn(`JetStream is not answering yet (${what} ${reason}); retrying for up to ${STARTUP_RETRY_MS / 1000} s`, { server: serverOf(nc), reason: oneLine(error) })
  }

  /**
   * Follows the connection: says once when it is lost and once when it is back (naming the
   * server each time, not once per failed fetch), and renews pull requests after a reconnect.
   */
  async #watch(nc: NatsConnection, status: AsyncIterable<Status>): Promise<void> {
    for await (const event of status) {
      if (event.type === 'disconnect') {
        this.#disconnected = true
        this.#logger.warn(`disconnected from nats://${event.server}; reconnecting`)
      } else if (event.type === 'reconnect') {
        this.#disconnected = false
        this.#logger.info(`reconnected to ${serverOf(nc)}`)
        // A restarted server has forgotten every pull request: ask again.
        for (const consumer of this.#consumers) consumer.renew()
      }
    }
  }

  /**
   * The logger a queue consumer reports through: a fetch that failed because its server went
   * away (missed heartbeats, or any failure while disconnected) is expected in a failover and
   * the connection's own lines say why, so its error is one line, without nats.js's stack.
   */
  readonly #consumerLogger: Logger = {
    debug: (message, fields) => this.#logger.debug(message, fields),
    info: (message, fields) => this.#logger.info(message, fields),
    warn: (message, fields) => this.#logger.warn(message, this.#failover(fields)),
    error: (message, fields) => this.#logger.error(message, fields),
  }

  #failover(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    const error = fields?.error
    if (!(error instanceof Error) || !(this.#disconnected || /heartbeats missed/i.test(error.message))) return fields
    const { error: _error, ...rest } = fields!
    return { ...rest, reason: `${oneLine(error)} (the server holding the pull request is gone or unreachable; fetching again)` }
  }

  #use(): Session {
    if (this.#session === undefined) throw new TransportError('nats transport is not connected')
    return this.#session
  }

  async #declared(queue: string): Promise<Session> {
    const session = this.#use()
    check.nonEmpty(queue, 'queue')
    if ((await session.topology.findQueue(queue)) === undefined) throw new TransportError(`queue "${queue}" is not declared`)
    return session
  }

}

/** `Name: message` of an error, without its stack. */
function oneLine(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
