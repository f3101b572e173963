/**
 * The dashboard's options, as `app.dashboard()` and `celeriac dashboard` take them.
 * @module
 */
import { ConfigError } from '../errors.js'

/** Options of `app.dashboard()`. */
export interface DashboardOptions {
  /** `user:pass`: every page and API call needs HTTP basic auth with it. */
  basicAuth?: string
  /** Every page and API call needs `Authorization: Bearer <token>` (or `?token=` once, which sets a cookie). */
  token?: string
  /** Hide and refuse every action (403 with a JSON error). */
  readOnly?: boolean
  /** Tasks kept in memory, oldest dropped first. @default 100000 */
  maxTasks?: number
  /** Paths served without auth (for probes and scrapers): any of `/healthcheck`, `/metrics`. */
  openPaths?: readonly ('/healthcheck' | '/metrics')[]
  /** Where the dashboard is mounted (`/flower` under Express's `app.use('/flower', handler)`): pages link under it. @default '' */
  prefix?: string
  /** Milliseconds between live updates sent to each page. @default 250 */
  batchMs?: number
  /**
   * Host names (no port) the `Host` header may name; any other is refused with 403. Guards a
   * dashboard on 127.0.0.1 against DNS rebinding (a page elsewhere whose name resolves to
   * 127.0.0.1). `celeriac dashboard` sets `['127.0.0.1', 'localhost', '[::1]']` when it binds
   * a loopback address. @default any
   */
  allowedHosts?: readonly string[]
  /**
   * Bytes an action's request body may hold; a longer one is refused with 413 before it is
   * read. @default 1048576 (1 MiB)
   */
  maxBodyBytes?: number
}

// NATS's default max_payload is 1 MiB: a task message sent from a bigger body would not be
// carried anyway, and every action's parameters fit in a few hundred bytes.
const MAX_BODY_BYTES = 1024 * 1024

/** Checks the options; a bad one is a ConfigError naming it. */
export function checkOptions(options: DashboardOptions): Required<Pick<DashboardOptions, 'readOnly' | 'maxTasks' | 'prefix' | 'batchMs' | 'maxBodyBytes'>> & DashboardOptions {
  if (options.basicAuth !== undefined && !/^[^:]+:.+$/.test(options.basicAuth)) throw new ConfigError('dashboard basicAuth must be "user:pass"')
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length === 0)) throw new ConfigError('dashboard token must be a non-empty string')
  const maxTasks = options.maxTasks ?? 100_000
  if (!Number.isInteger(maxTasks) || maxTasks < 1) throw new ConfigError(`dashboard maxTasks must be a positive integer, got ${maxTasks}`)
  const batchMs = options.batchMs ?? 250
  if (!(batchMs > 0)) throw new ConfigError(`dashboard batchMs must be a positive number, got ${batchMs}`)
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) throw new ConfigError(`dashboard maxBodyBytes must be a positive integer, got ${maxBodyBytes}`)
  for (const path of options.openPaths ?? []) if (path !== '/healthcheck' && path !== '/metrics') throw new ConfigError(`dashboard openPaths may hold /healthcheck and /metrics, got ${JSON.stringify(path)}`)
  for (const host of options.allowedHosts ?? []) if (typeof host !== 'string' || host === '' || /[/:@\s]/.test(host.replace(/^\[[^\]]*\]$/, 'v6'))) throw new ConfigError(`dashboard allowedHosts holds host names without a port, got ${JSON.stringify(host)}`)
  const prefix = (options.prefix ?? '').replace(/\/+$/, '')
  if (prefix !== '' && !/^\/[\w\-./]*$/.test(prefix)) throw new ConfigError(`dashboard prefix must be a path like /flower, got ${JSON.stringify(options.prefix)}`)
  return { ...options, readOnly: options.readOnly ?? false, maxTasks, prefix, batchMs, maxBodyBytes }
}
