import { loadApp } from './load-app.js'
import { createApp, type App } from '../app/app.js'
import { toMs } from '../util/duration.js'
import { UsageError } from './cli-errors.js'
import { ConfigError } from '../errors.js'
import { censorUrl } from '../config/conf.js'
import { backendAdapters, transportAdapters } from '../adapters/adapters.js'
import { scheme } from '../adapters/url.js'
import { alignOptions } from './help.js'

export { CommandFailed, UsageError } from './cli-errors.js'

/** The options every command that talks to the cluster accepts (parseArgs table entries). */
export const connectionOptions = {
  app: { type: 'string', short: 'A' },
  broker: { type: 'string', short: 'b' },
  'result-backend': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** The connection options' lines of a command's help. */
export const connectionHelp = alignOptions(`  -A, --app <module>          module (.ts, .js or package) exporting the app; module:name names the export
  -b, --broker <url>          broker URL (over CELERIAC_BROKER_URL and the app's config)
      --result-backend <url>  result backend URL (over CELERIAC_RESULT_BACKEND and the app's config)
  -h, --help                  show this help`)

/**
 * The app a command works with, configured in this order, later wins: the app module's own
 * config (`createApp`, `app.configFromObject`), then `CELERIAC_*` environment variables, then
 * the command line. Without `-A`, a bare app built from the environment and the command line
 * (enough to send tasks by name, read results and control nodes).
 */
export async function openApp(values: { app?: string; broker?: string; 'result-backend'?: string }): Promise<App> {
  const app = values.app !== undefined ? await loadApp(values.app) : createApp({ name: 'celeriac' })
  // A bad variable, URL or value is the user's to fix (exit 2), found here before anything
  // connects; a failure once connecting (a server down) stays a runtime failure (exit 1).
  try {
    app.configFromEnv()
    app.configFromObject({ broker: values.broker, backend: values['result-backend'] })
    knownScheme(app.conf.broker, 'broker', transportAdapters)
    knownScheme(app.conf.backend, 'backend', backendAdapters)
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message, { cause: error })
    throw error
  }
  return app
}

/** Refuses a URL no adapter serves, with the message the app would give once it connects. */
function knownScheme(url: string, key: 'broker' | 'backend', adapters: Readonly<Record<string, unknown>>): void {
  if (Object.hasOwn(adapters, scheme(url, key))) return
  throw new ConfigError(`config.${key}: unsupported scheme in ${censorUrl(url)} (supported: ${Object.keys(adapters).map((name) => `${name}://`).join(', ')})`)
}

/**
 * Refuses an in-process (`memory://`) broker, or result backend, for a command whose other side
 * is another process: such a command would print an id for a task nobody can run, or wait for
 * nodes and results that cannot reach it. `consequence` says what would go wrong.
 */
export function requireShared(app: App, command: string, consequence: string, which: 'broker' | 'backend' = 'broker'): void {
  const url = which === 'broker' ? app.conf.broker : app.conf.backend
  if (!/^memory:/i.test(url)) return
  const unset = /^memory:\/\/$/i.test(url) ? ' (the default: none is configured)' : ''
  const how = which === 'broker'
    ? '-b nats://host:4222, CELERIAC_BROKER_URL, or the app\'s config (createApp({ broker }))'
    : '--result-backend nats://, CELERIAC_RESULT_BACKEND, or the app\'s config (createApp({ backend }))'
  throw new UsageError(`${command}: the ${which === 'broker' ? 'broker' : 'result backend'} is ${url}${unset}, which lives inside this one process: ${consequence}. Name a shared one with ${how}`)
}

/** A positive integer option. */
export function positiveInt(value: string, flag: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`)
  return n
}

/** A duration option, in seconds or with a unit (`10`, `500ms`, `5m`); returns seconds. */
export function seconds(value: string, flag: string): number {
  try {
    return toMs(/^\d+(\.\d+)?$/.test(value) ? Number(value) : value, flag) / 1000
  } catch {
    throw new UsageError(`${flag} must be a number of seconds or a duration like '10s', got ${JSON.stringify(value)}`)
  }
}

/** {@link seconds}, more than 0: a wait of none is no wait (a timeout, an interval). */
export function positiveSeconds(value: string, flag: string): number {
  const s = seconds(value, flag)
  if (!(s > 0)) throw new UsageError(`${flag} must be more than 0 seconds, got ${JSON.stringify(value)}`)
  return s
}

/** A comma-separated list option. */
export function list(value: string): string[] {
  return value.split(',').map((item) => item.trim()).filter(Boolean)
}

/** A JSON option that must parse to the kind `check` accepts. */
export function json<T>(value: string, flag: string, check: (parsed: unknown) => parsed is T, want: string): T {
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch (error) {
    throw new UsageError(`${flag} is not JSON (${(error as Error).message}): ${JSON.stringify(value)}; give ${want} in JSON, quoted for the shell, e.g. '[2, 3]'`)
  }
  if (!check(parsed)) throw new UsageError(`${flag} must be ${want} in JSON, got ${value}`)
  return parsed
}
