import { toMs } from '../util/duration.js'
import { backendFromUrl, transportFromUrl } from '../adapters/adapters.js'
import { maxDeliverOf } from '../transport/defaults.js'
import { NatsConnections } from '../adapters/nats-connections.js'
import { natsOptionsFromConfig } from '../adapters/nats-settings.js'
import { memoryName } from '../adapters/url.js'
import { RelayBackend, RelayTransport, relaysToMainThread } from '../worker/thread/relay-client.js'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Conf } from '../config/conf.js'
import type { Clock } from '../util/clock.js'
import type { Logger } from '../util/logger.js'
import type { Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'

/** What {@link Connections} is built from. */
export interface ConnectionsOptions {
  conf: Conf
  clock: Clock
  /**
   * The app's logger, given to the parts built here: a transport's warnings (a consumer that
   * cannot fetch, a dead-lettered message) go through the one logger, with its level and format
   * (the CLI's `-l`, `--log-format`), not straight to stderr.
   */
  logger: Logger
  /** Instances given by the user, used instead of ones built from `config.broker` / `config.backend`. */
  transport?: Transport
  backend?: ResultBackend
}

/** A part connected on first use. A failed connect is not kept: the next use tries again. */
class OnDemand<T extends { connect(): Promise<void>; close(): Promise<void> }> {
  readonly #make: () => Promise<T>
  #opening?: Promise<T>
  /** The part once connected, so hot paths need not await a settled promise. */
  connected?: T

  constructor(make: () => Promise<T>) {
    this.#make = make
  }

  get(): Promise<T> {
    if (this.#opening) return this.#opening
    const opening = (this.#opening = this.#make().then(async (part) => {
      await part.connect()
      this.connected = part
      return part
    }))
    opening.catch(() => {
      if (this.#opening === opening) this.#opening = undefined
    })
    return opening
  }

  get started(): boolean {
    return this.#opening !== undefined
  }

  /** Closes the part if it was connected; later calls of {@link get} connect a new one. */
  async close(): Promise<void> {
    const opening = this.#opening
    this.#opening = undefined
    this.connected = undefined
    await opening?.then((part) => part.close(), () => {})
  }
}

/**
 * An app's connections: the transport and the result backend, each made from its URL by the
 * adapters table and connected on first use, and the NATS connections they share. An app
 * can close them and connect again later.
 */
export class Connections {
  readonly #options: ConnectionsOptions
  readonly #nats: NatsConnections
  readonly #transport: OnDemand<Transport>
  readonly #backend: OnDemand<ResultBackend>

  constructor(options: ConnectionsOptions) {
    const { conf, clock, logger } = options
    this.#options = options
    this.#nats = new NatsConnections(() => natsOptionsFromConfig(conf))
    const nats = this.#nats.get
    // Inside a worker thread, memory:// names the broker and store of the main thread, where the
    // node runs: the thread's app reaches them through the relay (worker/thread/relay-client.ts)
    // rather than making empty ones of its own, where a task sent from a task would stay for ever.
    this.#transport = new OnDemand(async () => {
      if (options.transport) return options.transport
      const ackWaitMs = toMs(conf.brokerAckWait, 'config.brokerAckWait')
      const maxDeliver = maxDeliverOf(conf.brokerMaxDeliver)
      if (relaysToMainThread(conf.broker)) return new RelayTransport({ name: memoryName(conf.broker), ackWaitMs, maxDeliver })
      return transportFromUrl(conf.broker, { clock, ackWaitMs, maxDeliver, nats, logger, namespace: conf.namespace, replicas: conf.natsReplicas ?? undefined })
    })
    this.#backend = new OnDemand(async () => {
      if (options.backend) return options.backend
      const resultExpiresMs = toMs(conf.resultExpires, 'config.resultExpires')
      if (relaysToMainThread(conf.backend)) return new RelayBackend({ name: memoryName(conf.backend), resultExpiresMs })
      return backendFromUrl(conf.backend, { clock, resultExpiresMs, broker: conf.broker, nats, namespace: conf.namespace, replicas: conf.natsReplicas ?? undefined })
    })
  }

  /** The connected transport (connects on first call). */
  transport(): Promise<Transport> {
    return this.#transport.get()
  }

  /** The connected result backend (connects on first call). */
  backend(): Promise<ResultBackend> {
    return this.#backend.get()
  }

  /** The transport if connected, without waiting. */
  get connectedTransport(): Transport | undefined {
    return this.#transport.connected
  }

  /** The result backend if connected, without waiting. */
  get connectedBackend(): ResultBackend | undefined {
    return this.#backend.connected
  }

  /** The shared connection to the NATS server at `url`, for parts built on NATS directly (beat's lease). */
  natsConnection(url: string): Promise<NatsConnection> {
    return this.#nats.get(url)
  }

  /**
   * Resolves once a task may be sent, or `undefined` when it may be sent now: before a backend
   * that only sends results to the caller (rpc://) is connected, a task would carry no reply
   * subject, and its result would go where nobody listens yet. Starts connecting any other
   * backend, alongside the first send rather than before it: tasks sent once it is connected
   * carry its reply subject (nats:// pushes their ready records there), the first few go
   * without, and a backend that cannot connect fails only a `get()` that needs it.
   */
  readyToSend(): Promise<unknown> | undefined {
    if (this.#backend.connected !== undefined) return undefined
    const injected = this.#options.backend
    if (injected?.capabilities.stores === false || (injected === undefined && /^rpc:\/\//i.test(this.#options.conf.backend))) return this.backend()
    if (!this.#backend.started) this.backend().catch(() => {})
    return undefined
  }

  /** Closes the transport, the backend, then the NATS connections they shared. */
  async close(): Promise<void> {
    await Promise.all([this.#transport.close(), this.#backend.close()])
    await this.#nats.close()
  }
}
