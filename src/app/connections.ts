import { toMs } from '../util/duration.js'
import { backendFromUrl, transportFromUrl } from '../adapters/adapters.js'
import { NatsConnections } from '../adapters/nats-connections.js'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Conf } from '../config/conf.js'
import type { Clock } from '../util/clock.js'
import type { Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'

/** What {@link Connections} is built from. */
export interface ConnectionsOptions {
  conf: Conf
  clock: Clock
  /** Instances given by the user, used instead of ones built from `config.broker` / `config.backend`. */
  transport?: Transport
  backend?: ResultBackend
}

/**
 * An app's connections: the transport and the result backend, each made from its URL by the
 * adapters table and connected on first use, and the NATS connections they share. An app
 * can close them and connect again later.
 */
export class Connections {
  readonly #options: ConnectionsOptions
  readonly #nats: NatsConnections
  #transport?: Promise<Transport>
  #backend?: Promise<ResultBackend>
  /** The same parts once connected, so hot paths need not await a settled promise. */
  #connected: { transport?: Transport; backend?: ResultBackend } = {}

  constructor(options: ConnectionsOptions) {
    this.#options = options
    this.#nats = new NatsConnections(() => options.conf.brokerTransportOptions)
  }

  /** The connected transport (connects on first call). */
  transport(): Promise<Transport> {
    this.#transport ??= (async () => {
      const { conf, clock } = this.#options
      const transport = this.#options.transport ?? (await transportFromUrl(conf.broker, { clock, ackWaitMs: toMs(conf.brokerAckWait, 'config.brokerAckWait'), nats: this.#nats.get }))
      await transport.connect()
      this.#connected.transport = transport
      return transport
    })()
    // A failed connect is not kept: the next call tries again (and close() has nothing to close).
    const transport = this.#transport
    transport.catch(() => {
      if (this.#transport === transport) this.#transport = undefined
    })
    return transport
  }

  /** The connected result backend (connects on first call). */
  backend(): Promise<ResultBackend> {
    this.#backend ??= (async () => {
      const { conf, clock } = this.#options
      const backend = this.#options.backend ?? (await backendFromUrl(conf.backend, { clock, resultExpiresMs: toMs(conf.resultExpires, 'config.resultExpires'), broker: conf.broker, nats: this.#nats.get }))
      await backend.connect()
      this.#connected.backend = backend
      return backend
    })()
    const backend = this.#backend
    backend.catch(() => {
      if (this.#backend === backend) this.#backend = undefined
    })
    return backend
  }

  /** The transport if connected, without waiting. */
  get connectedTransport(): Transport | undefined {
    return this.#connected.transport
  }

  /** The result backend if connected, without waiting. */
  get connectedBackend(): ResultBackend | undefined {
    return this.#connected.backend
  }

  /** The shared connection to the NATS server at `url`, for parts built on NATS directly (beat's lease). */
  natsConnection(url: string): Promise<NatsConnection> {
    return this.#nats.get(url)
  }

  /**
   * Resolves once a task may be sent, or `undefined` when it may be sent now: before an rpc://
   * backend is connected a task would carry no reply subject, and its result would go where
   * nobody listens yet. Starts connecting any other backend, alongside the first send rather
   * than before it: tasks sent once it is connected carry its reply subject (nats:// pushes
   * their ready records there), the first few go without, and a backend that cannot connect
   * fails only a `get()` that needs it.
   */
  readyToSend(): Promise<unknown> | undefined {
    if (this.#connected.backend !== undefined) return undefined
    const injected = this.#options.backend
    if (injected?.capabilities.stores === false || (injected === undefined && /^rpc:\/\//i.test(this.#options.conf.backend))) return this.backend()
    if (this.#backend === undefined) this.backend().catch(() => {})
    return undefined
  }

  /** Closes the transport, the backend, then the NATS connections they shared. */
  async close(): Promise<void> {
    const [transport, backend] = [this.#transport, this.#backend]
    this.#transport = undefined
    this.#backend = undefined
    this.#connected = {}
    await Promise.all([transport?.then((t) => t.close(), () => {}), backend?.then((b) => b.close(), () => {})])
    await this.#nats.close()
  }
}
