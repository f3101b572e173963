/**
 * The adapters by URL scheme: one table for brokers, one for result backends. An app turns
 * `config.broker` and `config.backend` into parts here and nowhere else.
 * @module
 */
import { ConfigError } from '../errors.js'
import { censorUrl } from '../config/conf.js'
import { MemoryTransport } from '../transport/memory/memory-transport.js'
import { memoryBroker } from '../transport/memory/memory-broker.js'
import { MemoryBackend, memoryResultStore } from '../result/memory/memory-backend.js'
import { hostOf, memoryName, scheme } from './url.js'
import type { Clock } from '../util/clock.js'
import type { Logger } from '../util/logger.js'
import type { Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'
import type { NatsConnector } from './nats-connections.js'

/** What a broker adapter is given besides the URL. */
export interface TransportContext {
  clock: Clock
  /** Ack wait of queues declared without one, ms (`config.brokerAckWait`). */
  ackWaitMs: number
  /** Delivery limit of queues declared without one (`config.brokerMaxDeliver`; Infinity for none). */
  maxDeliver: number
  nats: NatsConnector
  /** The app's logger: what the transport reports goes where the app's own lines go. */
  logger?: Logger
  /** Prefix of every NATS subject, stream and bucket (`config.namespace`); absent: the default names. */
  namespace?: string
  /** Copies JetStream keeps of what is created (`config.natsReplicas`); absent: by the cluster's size. */
  replicas?: number
}

/** What a result backend adapter is given besides the URL. */
export interface BackendContext {
  clock: Clock
  /** How long results are kept, ms (`config.resultExpires`). */
  resultExpiresMs: number
  /** The broker URL: `rpc://` and a `nats://` without a host use the broker's server. */
  broker: string
  nats: NatsConnector
  /** Prefix of every NATS subject, stream and bucket (`config.namespace`); absent: the default names. */
  namespace?: string
  /** Copies JetStream keeps of what is created (`config.natsReplicas`); absent: by the cluster's size. */
  replicas?: number
}

export type TransportFactory = (url: string, context: TransportContext) => Promise<Transport>
export type BackendFactory = (url: string, context: BackendContext) => Promise<ResultBackend>

const natsTransport: TransportFactory = async (url, { clock, ackWaitMs, maxDeliver, nats, logger, namespace, replicas }) => {
  // Loaded on demand: an app on memory:// never loads the NATS client.
  const { NatsTransport } = await import('../transport/nats/nats-transport.js')
  return new NatsTransport({ url, connection: await nats(url), clock, ackWaitMs, maxDeliver, logger, replicas, ...(namespace === undefined ? {} : { prefix: namespace }) })
}

/** Broker URL schemes: `memory://[name]` (embedded), `nats://` and `tls://` (NATS JetStream). */
export const transportAdapters: Readonly<Record<string, TransportFactory>> = {
  memory: async (url, { clock, ackWaitMs, maxDeliver }) => new MemoryTransport({ broker: memoryBroker(memoryName(url)), clock, ackWaitMs, maxDeliver }),
  nats: natsTransport,
  tls: natsTransport,
}

/** The NATS server a NATS-based backend uses: its own host if it names one, else the broker's. */
function natsServer(url: string, broker: string, ownHost: boolean): string {
  const server = ownHost && hostOf(url) !== '' ? url : broker
  if (!/^(nats|tls):\/\//i.test(server)) {
    throw new ConfigError(`config.backend ${censorUrl(url)} needs a NATS server: give one in the URL or use a nats:// broker`)
  }
  return server
}

const natsKvBackend: BackendFactory = async (url, { resultExpiresMs, broker, nats, namespace, replicas }) => {
  const server = natsServer(url, broker, true)
  const connection = await nats(server)
  const { NatsKvBackend } = await import('../result/nats-kv/nats-kv-backend.js')
  const { Names } = await import('../transport/nats/names.js')
  const bucket = namespace === undefined ? undefined : new Names(namespace).resultsBucket
  return new NatsKvBackend({ url: server, connection, resultExpiresMs, replicas, ...(bucket === undefined ? {} : { bucket }) })
}

/**
 * Result backend URL schemes: `memory://[name]`; `nats://` and `tls://` (JetStream KV; with no
 * host, the broker's server); `rpc://` (results sent to the caller, not stored, over the
 * broker's NATS connection).
 */
export const backendAdapters: Readonly<Record<string, BackendFactory>> = {
  memory: async (url, { clock, resultExpiresMs }) => new MemoryBackend({ store: memoryResultStore(memoryName(url)), clock, resultExpiresMs }),
  nats: natsKvBackend,
  tls: natsKvBackend,
  rpc: async (url, { broker, nats, namespace }) => {
    const server = natsServer(url, broker, false)
    const connection = await nats(server)
    const { RpcBackend } = await import('../result/rpc/rpc-backend.js')
    return new RpcBackend({ url: server, connection, ...(namespace === undefined ? {} : { prefix: namespace }) })
  },
}

function adapterFor<F>(table: Readonly<Record<string, F>>, url: string, key: 'broker' | 'backend'): F {
  const factory = Object.hasOwn(table, scheme(url, key)) ? table[scheme(url, key)] : undefined
  if (factory) return factory
  const known = Object.keys(table).map((name) => `${name}://`).join(', ')
  throw new ConfigError(`config.${key}: unsupported scheme in ${censorUrl(url)} (supported: ${known})`)
}

/** The transport for a broker URL; a ConfigError listing the known schemes for any other. */
export function transportFromUrl(url: string, context: TransportContext): Promise<Transport> {
  try {
    return adapterFor(transportAdapters, url, 'broker')(url, context)
  } catch (error) {
    return Promise.reject(error)
  }
}

/** The result backend for a backend URL; a ConfigError listing the known schemes for any other. */
export function backendFromUrl(url: string, context: BackendContext): Promise<ResultBackend> {
  try {
    return adapterFor(backendAdapters, url, 'backend')(url, context)
  } catch (error) {
    return Promise.reject(error)
  }
}
