import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node'
import { ConfigError, TransportError } from '../../errors.js'
import { censorUrl } from '../../config/conf.js'

/**
 * Turns a broker URL into NATS connection options. Several servers are comma-separated;
 * `user:pass@` or `token@` give credentials; `tls://` asks for TLS. Anything else (creds
 * files, TLS certificates) passes through `extra`.
 * @example parseNatsUrl('nats://alice:secret@10.0.0.1:4222,10.0.0.2:4222')
 */
export function parseNatsUrl(url: string, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  const match = /^(nats|tls):\/\/(?:([^@/]*)@)?([^/?#]*)\/?(?:[?#].*)?$/i.exec(url)
  if (!match) throw new ConfigError(`not a NATS URL: ${censorUrl(url)} (expected nats://[user:pass@]host:port[,host:port])`)
  const [, scheme, auth, hostList] = match
  const servers = hostList.split(',').map((h) => h.trim()).filter(Boolean)
  const options: ConnectionOptions = { servers: servers.length > 0 ? servers : ['127.0.0.1:4222'], ...extra }
  if (auth) {
    const colon = auth.indexOf(':')
    if (colon === -1) options.token = decodeURIComponent(auth)
    else {
      options.user = decodeURIComponent(auth.slice(0, colon))
      options.pass = decodeURIComponent(auth.slice(colon + 1))
    }
  }
  if (scheme.toLowerCase() === 'tls') options.tls = { ...(typeof extra.tls === 'object' ? extra.tls : {}) }
  return options
}

/** Connects to NATS, naming the server (credentials censored) when it cannot. */
export async function connectNats(url: string, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  try {
    // No async traces: nats.js would otherwise build two Errors (stack captures) for every
    // request, which was a sixth of a worker's main thread on NATS. Errors still say what failed.
    return await connect({ name: 'celeriac', maxReconnectAttempts: -1, noAsyncTraces: true, ...parseNatsUrl(url, extra) })
  } catch (error) {
    throw new TransportError(`cannot connect to NATS at ${censorUrl(url)}: ${(error as Error).message}`, { cause: error })
  }
}
