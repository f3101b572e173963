import { readFileSync } from 'node:fs'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import { connect, createInbox, credsAuthenticator, errors as natsErrors, nkeyAuthenticator, RequestError, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node'
import { JetStreamApiError } from '@nats-io/jetstream'
import { ConfigError, TransportError } from '../../errors.js'
import { censorUrl } from '../../config/conf.js'
import { permissionsOf, refusalIn } from './permission-watch.js'

/**
 * Connection options of nats.js, plus credentials given as files: what `connectNats` takes.
 * `credsFile` is a JWT `.creds` file (`nsc generate creds`), `nkeySeedFile` a file holding
 * an NKey user seed (`SU...`). TLS files go in `tls: { caFile, certFile, keyFile }`.
 */
export interface NatsConnectOptions extends Partial<ConnectionOptions> {
  /** A JWT user credentials file (`.creds`): the server must run in operator mode. */
  credsFile?: string
  /** A file holding an NKey user seed (`SU...`); the server lists the user's public key. */
  nkeySeedFile?: string
}

const truthy = (value: string) => /^(1|true|yes|on)$/i.test(value)

/** The query parameters a NATS URL may carry, by name, and the options each sets. */
const QUERY: Readonly<Record<string, (options: NatsConnectOptions, value: string) => void>> = {
  tls: (o, v) => void (truthy(v) && (o.tls = { ...o.tls })),
  tls_ca: (o, v) => void (o.tls = { ...o.tls, caFile: v }),
  tls_cert: (o, v) => void (o.tls = { ...o.tls, certFile: v }),
  tls_key: (o, v) => void (o.tls = { ...o.tls, keyFile: v }),
  creds: (o, v) => void (o.credsFile = v),
  nkey: (o, v) => void (o.nkeySeedFile = v),
  inbox_prefix: (o, v) => void (o.inboxPrefix = v),
}

/**
 * Turns a broker URL into NATS connection options. Several servers are comma-separated;
 * `user:pass@` or `token@` give credentials; `tls://` (or `?tls=true`) asks for TLS. Query
 * parameters name files: `tls_ca`, `tls_cert`, `tls_key` (mutual TLS), `creds` (a JWT creds
 * file), `nkey` (an NKey seed file), and `inbox_prefix` (the prefix of reply subjects, for a
 * user allowed only its own inbox). Anything else passes through `extra`; the URL wins.
 * @example parseNatsUrl('nats://alice:secret@10.0.0.1:4222,10.0.0.2:4222')
 * @example parseNatsUrl('tls://nats.internal:4222?tls_ca=/etc/nats/ca.pem&creds=/etc/nats/app.creds')
 */
export function parseNatsUrl(url: string, extra: NatsConnectOptions = {}): NatsConnectOptions {
  const match = /^(nats|tls):\/\/(?:([^@/?#]*)@)?([^/?#]*)\/?(?:\?([^#]*))?(?:#.*)?$/i.exec(url)
  if (!match) throw new ConfigError(`not a NATS URL: ${censorUrl(url)} (expected nats://[user:pass@]host:port[,host:port])`)
  const [, scheme, auth, hostList, query] = match
  const servers = hostList.split(',').map((h) => h.trim()).filter(Boolean)
  const options: NatsConnectOptions = { servers: servers.length > 0 ? servers : ['127.0.0.1:4222'], ...extra }
  if (auth) {
    const colon = auth.indexOf(':')
    if (colon === -1) options.token = decodeURIComponent(auth)
    else {
      options.user = decodeURIComponent(auth.slice(0, colon))
      options.pass = decodeURIComponent(auth.slice(colon + 1))
    }
  }
  if (scheme.toLowerCase() === 'tls') options.tls = { ...(typeof extra.tls === 'object' ? extra.tls : {}) }
  for (const [name, value] of new URLSearchParams(query ?? '')) {
    const apply = Object.hasOwn(QUERY, name) ? QUERY[name] : undefined
    if (apply === undefined) throw new ConfigError(`unknown parameter "${name}" in NATS URL ${censorUrl(url)} (known: ${Object.keys(QUERY).join(', ')})`)
    apply(options, value)
  }
  return options
}

function readSecret(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path)
  } catch (error) {
    throw new ConfigError(`cannot read the NATS ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
}

/** nats.js options for {@link NatsConnectOptions}: credential files read and turned into an authenticator. */
export function resolveNatsOptions(options: NatsConnectOptions): ConnectionOptions {
  const { credsFile, nkeySeedFile, ...rest } = options
  if (credsFile !== undefined && credsFile !== '' && nkeySeedFile !== undefined && nkeySeedFile !== '') {
    throw new ConfigError('give either a NATS creds file or an NKey seed file, not both')
  }
  if (credsFile) rest.authenticator = credsAuthenticator(readSecret(credsFile, 'creds'))
  if (nkeySeedFile) rest.authenticator = nkeyAuthenticator(new TextEncoder().encode(new TextDecoder().decode(readSecret(nkeySeedFile, 'NKey seed')).trim()))
  return rest
}

/**
 * A fresh reply subject under the connection's inbox prefix (`inboxPrefix`, default
 * `_INBOX`), so a user whose permissions allow only its own inbox can still get replies.
 */
export function inboxOf(nc: NatsConnection): string {
  return createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix)
}

/** What a bare nats.js error leaves the user to guess. */
function hint(error: Error, options: ConnectionOptions): string {
  if (error.name === 'AuthorizationError') return ': the server refused the credentials given (user and password, token, NKey or creds file)'
  // Over TLS 1.3 a server that wants a client certificate closes the connection after the
  // handshake without a word, and nats.js waits for its timeout.
  if (error.name === 'TimeoutError' && options.tls !== undefined && options.tls !== null && options.tls.certFile === undefined && options.tls.cert === undefined) {
    return ' (over TLS: if the server verifies clients, give a client certificate and key: natsTls.cert and natsTls.key)'
  }
  return ''
}

/** Connects to NATS, naming the server (credentials censored) when it cannot. */
export async function connectNats(url: string, extra: NatsConnectOptions = {}): Promise<NatsConnection> {
  const options = resolveNatsOptions(parseNatsUrl(url, extra))
  const opened: Socket[] = []
  const track = (message: unknown) => void opened.push((message as { socket: Socket }).socket)
  subscribe('net.client.socket', track)
  try {
    // No async traces: nats.js would otherwise build two Errors (stack captures) for every
    // request, which was a sixth of a worker's main thread on NATS. Errors still say what failed.
    return await connect({ name: 'celeriac', maxReconnectAttempts: -1, noAsyncTraces: true, ...options })
  } catch (error) {
    closeSilent(opened, options.servers)
    throw new TransportError(`cannot connect to NATS at ${censorUrl(url)}: ${(error as Error).message}${hint(error as Error, options)}`, { cause: error })
  } finally {
    unsubscribe('net.client.socket', track)
  }
}

/**
 * Destroys the sockets a failed connect left open to the servers it tried. nats.js (3.4)
 * leaves open the socket of a connect that timed out waiting for the server's INFO (the URL
 * named a port that accepts and stays silent: an HTTP port, a proxy), and that socket alone
 * kept the process alive for good. Only sockets to those servers' ports that never read a
 * byte: a NATS server speaks first, so none of them is a live NATS connection, and other
 * sockets the process opened meanwhile are left alone.
 */
function closeSilent(sockets: readonly Socket[], servers: string | string[] | undefined): void {
  const ports = new Set([servers ?? []].flat().map((server) => Number(/:(\d+)\/?$/.exec(server)?.[1] ?? 4222)))
  for (const socket of sockets) {
    if (!socket.destroyed && socket.bytesRead === 0 && ports.has(socket.remotePort ?? -1)) socket.destroy()
  }
}

/**
 * How long a client's setup (the transport's topology bucket and dead-letter stream, the result
 * backend's bucket) keeps asking while JetStream cannot answer yet, in all.
 *
 * @remarks
 * After a server is lost JetStream elects a new meta leader and new stream leaders within 4-9 s,
 * and until then its API requests time out or find no responders; a server just restarted takes
 * a few seconds more, and on a loaded machine far more: in a CI run on 2 busy cores, a server
 * restarted into a leaderless 3-server cluster had not brought its streams back 25 s later.
 * 60 s rides out that and two elections back to back (servers restarted one after another),
 * with the 5 s of each request's own timeout, yet tells an operator within a minute about a
 * cluster that stays leaderless (most of its servers down). Like Celery's
 * `broker_connection_retry_on_startup` (which by default retries for longer still), but only
 * for failures that pass: a refusal (permissions), an API error or a server without JetStream
 * fails at once.
 */
export const STARTUP_RETRY_MS = 60_000

/** JetStream's error code for "JetStream system temporarily unavailable" (a cluster without a meta leader). */
const CLUSTER_NOT_AVAILABLE = 10008

/** `nats://host:port (server name)` of the server `nc` is on now, for messages. */
export function serverOf(nc: NatsConnection): string {
  const name = nc.info?.server_name
  const where = nc.getServer()
  return `nats://${where === '' ? `${nc.info?.host ?? '?'}:${nc.info?.port ?? '?'}` : where}${name ? ` (server ${name})` : ''}`
}

/**
 * Why `error` is a failure that passes (a JetStream API request that timed out or found no
 * responders, as during a leader election), or `undefined` when asking again would not help.
 */
function passing(nc: NatsConnection, error: unknown): string | undefined {
  if (refusalIn(error) !== undefined) return undefined
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof natsErrors.TimeoutError || /^timeout$|timed out/i.test(e.message)) return 'timed out'
    if (e instanceof natsErrors.ConnectionError) return `lost its connection (${e.message})`
    if (e instanceof JetStreamApiError) return e.code === CLUSTER_NOT_AVAILABLE ? 'was answered "JetStream system temporarily unavailable"' : undefined
    const noResponders = e instanceof natsErrors.NoRespondersError || (e instanceof RequestError && e.isNoResponders())
    // No responders on a server without JetStream is a config error, not a passing one.
    if (noResponders) return nc.info?.jetstream === true ? 'found no responders' : undefined
  }
  return undefined
}

/** Asks one step of a setup (see {@link startupRequests}); `what` names the request for errors ("opening the topology bucket"). */
export type StartupRequest = <T>(what: string, request: () => Promise<T>) => Promise<T>

/**
 * Runs the JetStream requests of one setup on `nc`, each again while it fails for a passing
 * reason (see {@link STARTUP_RETRY_MS}), for `totalMs` in all. `onRetry` is told of the first
 * retry. Past the bound the error names the request and the server it timed out against; any
 * other failure is thrown at once, as it came, and a server without JetStream is named.
 */
export function startupRequests(nc: NatsConnection, options: { totalMs?: number; onRetry?: (what: string, reason: string, error: unknown) => void } = {}): StartupRequest {
  const totalMs = options.totalMs ?? STARTUP_RETRY_MS
  const giveUpAt = performance.now() + totalMs
  let told = false
  return async (what, request) => {
    // A refusal reported on the connection while this waits ends the wait with it.
    let refused: Error | undefined
    const stopWatching = permissionsOf(nc).on((error) => void (refused ??= error))
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          return await request()
        } catch (error) {
          const reason = passing(nc, error)
          if (refused !== undefined) throw refused
          if (reason === undefined) throw noJetStream(nc, error) ?? error
          const wait = Math.min(1_000, 100 * 2 ** attempt)
          if (nc.isClosed() || performance.now() + wait >= giveUpAt) {
            throw new Error(`${what} ${reason} against ${serverOf(nc)}, still after ${Math.round(totalMs / 1000)} s of retries (is JetStream electing leaders, or are most of the cluster's servers down?)`, { cause: error })
          }
          if (!told) options.onRetry?.(what, reason, error)
          told = true
          await new Promise((resolve) => setTimeout(resolve, wait))
        }
      }
    } finally {
      stopWatching()
    }
  }
}

/** The error that says so when `error` is JetStream's "not enabled" answer from a server that has none. */
function noJetStream(nc: NatsConnection, error: unknown): Error | undefined {
  // nats.js's JetStreamNotEnabled (not exported): what it makes of no responders to a JetStream API request.
  if ((error as Error)?.name !== 'JetStreamNotEnabled' || nc.info?.jetstream === true) return undefined
  return new ConfigError(`the NATS server at ${serverOf(nc)} does not run JetStream, which celeriac needs: start it with -js (or a jetstream {} block in its config)`, { cause: error })
}
