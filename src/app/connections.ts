import { ConfigError } from '../errors.js'
import { MemoryTransport } from '../transport/memory/memory-transport.js'
import { memoryBroker } from '../transport/memory/memory-broker.js'
import { MemoryBackend, memoryResultStore } from '../result/memory/memory-backend.js'
import { censorUrl } from '../config/conf.js'
import type { Clock } from '../util/clock.js'
import type { Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'

function parse(url: string, key: string): URL {
  try {
    return new URL(url)
  } catch {
    throw new ConfigError(`config.${key} is not a valid URL: ${censorUrl(url)}`)
  }
}

/** The transport for a broker URL. */
export function transportFromUrl(url: string, options: { clock: Clock; ackWaitMs: number }): Transport {
  const parsed = parse(url, 'broker')
  if (parsed.protocol === 'memory:') {
    return new MemoryTransport({ broker: memoryBroker(parsed.host), clock: options.clock, ackWaitMs: options.ackWaitMs })
  }
  throw new ConfigError(`config.broker: unsupported scheme "${parsed.protocol}" in ${censorUrl(url)} (this build supports memory://)`)
}

/** The result backend for a backend URL. */
export function backendFromUrl(url: string, options: { clock: Clock; resultExpiresMs: number }): ResultBackend {
  const parsed = parse(url, 'backend')
  if (parsed.protocol === 'memory:') {
    return new MemoryBackend({ store: memoryResultStore(parsed.host), clock: options.clock, resultExpiresMs: options.resultExpiresMs })
  }
  throw new ConfigError(`config.backend: unsupported scheme "${parsed.protocol}" in ${censorUrl(url)} (this build supports memory://)`)
}
