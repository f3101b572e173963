import { ConfigError } from '../errors.js'
import { MemoryTransport } from '../transport/memory/memory-transport.js'
import { memoryBroker } from '../transport/memory/memory-broker.js'
import { MemoryBackend, memoryResultStore } from '../result/memory/memory-backend.js'
import { censorUrl } from '../config/conf.js'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Clock } from '../util/clock.js'
import type { Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'

/** Opens (or shares) the NATS connection for a URL. */
export type NatsConnector = (url: string) => Promise<NatsConnection>

/** The lower-case scheme of a URL (`memory`, `nats`...); a ConfigError naming `config.<key>` when it has none. */
export function scheme(url: string, key: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)
  if (!match) throw new ConfigError(`config.${key} is not a valid URL: ${censorUrl(url)}`)
  return match[1].toLowerCase()
}

function memoryName(url: string): string {
  return url.replace(/^memory:\/\//i, '').replace(/\/.*$/, '')
}

/** The transport for a broker URL: `memory://[name]`, `nats://` or `tls://` (NATS with TLS). */
export async function transportFromUrl(url: string, options: { clock: Clock; ackWaitMs: number; nats: NatsConnector }): Promise<Transport> {
  switch (scheme(url, 'broker')) {
    case 'memory':
      return new MemoryTransport({ broker: memoryBroker(memoryName(url)), clock: options.clock, ackWaitMs: options.ackWaitMs })
    case 'nats':
    case 'tls': {
      // Loaded on demand: an app on memory:// never loads the NATS client.
      const { NatsTransport } = await import('../transport/nats/nats-transport.js')
      return new NatsTransport({ url, connection: await options.nats(url), clock: options.clock, ackWaitMs: options.ackWaitMs })
    }
    default:
      throw new ConfigError(`config.broker: unsupported scheme in ${censorUrl(url)} (supported: memory://, nats://, tls://)`)
  }
}

/**
 * The result backend for a backend URL: `memory://[name]`; `nats://` (JetStream KV; with no
 * host it uses the broker's server); `rpc://` (results sent to the caller, not stored; over the
 * broker's NATS connection).
 */
export async function backendFromUrl(url: string, options: { clock: Clock; resultExpiresMs: number; broker: string; nats: NatsConnector }): Promise<ResultBackend> {
  const kind = scheme(url, 'backend')
  if (kind === 'memory') {
    return new MemoryBackend({ store: memoryResultStore(memoryName(url)), clock: options.clock, resultExpiresMs: options.resultExpiresMs })
  }
  if (kind !== 'nats' && kind !== 'tls' && kind !== 'rpc') {
    throw new ConfigError(`config.backend: unsupported scheme in ${censorUrl(url)} (supported: memory://, nats://, rpc://)`)
  }
  // `nats://` and `rpc://` with no server of their own use the broker's.
  const own = url.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '')
  const serverUrl = kind !== 'rpc' && own !== '' ? url : options.broker
  if (!/^(nats|tls):\/\//i.test(serverUrl)) {
    throw new ConfigError(`config.backend ${censorUrl(url)} needs a NATS server: give one in the URL or use a nats:// broker`)
  }
  const connection = await options.nats(serverUrl)
  if (kind === 'rpc') {
    const { RpcBackend } = await import('../result/rpc/rpc-backend.js')
    return new RpcBackend({ url: serverUrl, connection })
  }
  const { NatsKvBackend } = await import('../result/nats-kv/nats-kv-backend.js')
  return new NatsKvBackend({ url: serverUrl, connection, resultExpiresMs: options.resultExpiresMs })
}
