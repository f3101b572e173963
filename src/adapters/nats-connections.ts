import type { NatsConnection } from '@nats-io/transport-node'
import type { NatsConnectOptions } from '../transport/nats/connect.js'

/** Opens (or shares) the NATS connection for a server URL. */
export type NatsConnector = (url: string) => Promise<NatsConnection>

/**
 * One NATS connection per server URL, shared by everything an app builds on NATS (transport,
 * result backend, beat's lease): one socket, one reconnect policy, one place that closes it.
 */
export class NatsConnections {
  readonly #open = new Map<string, Promise<NatsConnection>>()
  readonly #options: () => NatsConnectOptions

  /** `options`: extra connection options (credentials, creds and TLS files), read when a connection opens. */
  constructor(options: () => NatsConnectOptions = () => ({})) {
    this.#options = options
  }

  /** The connection to `url`, opened on first use; a failed open is forgotten, so the next call tries again. */
  readonly get: NatsConnector = (url) => {
    let connection = this.#open.get(url)
    if (!connection) {
      // Loaded on demand: an app on memory:// never loads the NATS client.
      connection = import('../transport/nats/connect.js').then(({ connectNats }) => connectNats(url, this.#options()))
      this.#open.set(url, connection)
      connection.catch(() => this.#open.delete(url))
    }
    return connection
  }

  /** Closes every connection; later calls of {@link get} open new ones. */
  async close(): Promise<void> {
    const open = [...this.#open.values()]
    this.#open.clear()
    await Promise.all(open.map((connection) => connection.then((c) => c.close(), () => {})))
  }
}
