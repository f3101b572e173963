import { ConfigError } from '../errors.js'
import { DEFAULTS, type ConfigValues } from './defaults.js'
import { closestKey } from '../util/closest.js'
import { validateConfig } from './conf.js'

const PREFIX = 'CELERIAC_'

/** Celery's names for the two URLs, accepted beside `CELERIAC_BROKER` and `CELERIAC_BACKEND`. */
const ALIASES: Readonly<Record<string, keyof ConfigValues>> = { CELERIAC_BROKER_URL: 'broker', CELERIAC_RESULT_BACKEND: 'backend' }

/** The environment variable of a config key: `taskAcksLate` -> `CELERIAC_TASK_ACKS_LATE`. */
export function envName(key: keyof ConfigValues): string {
  return PREFIX + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()
}

const BY_NAME: ReadonlyMap<string, keyof ConfigValues> = new Map([
  ...(Object.keys(DEFAULTS) as (keyof ConfigValues)[]).map((key) => [envName(key), key] as const),
  ...Object.entries(ALIASES),
])

/** Reads one variable's text as the kind of value its key takes; the config check judges the result. */
function parse(key: keyof ConfigValues, name: string, text: string): unknown {
  const kind = DEFAULTS[key]
  if (typeof kind === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(text)) return true
    if (/^(false|0|no|off)$/i.test(text)) return false
    throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(text)}`)
  }
  if (typeof kind === 'string') return text
  if (typeof kind === 'object' && kind !== null) {
    if (key === 'include' && !text.trimStart().startsWith('[')) return text.split(',').map((s) => s.trim()).filter(Boolean)
    try {
      return JSON.parse(text)
    } catch {
      throw new ConfigError(`${name} must be JSON, got ${JSON.stringify(text)}`)
    }
  }
  if (/^(null|none)$/i.test(text)) return null
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text
}

/**
 * The configuration given by `CELERIAC_*` environment variables: each key of
 * {@link ConfigValues} in upper snake case (`CELERIAC_TASK_ACKS_LATE=true`), plus
 * `CELERIAC_BROKER_URL` and `CELERIAC_RESULT_BACKEND`. An unknown `CELERIAC_*` variable is an
 * error naming it (and the variable it was probably meant to be), as an unknown key is.
 */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): Partial<ConfigValues> {
  const config: Record<string, unknown> = {}
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(PREFIX) || text === undefined) continue
    const key = BY_NAME.get(name)
    if (key === undefined) {
      const near = closestKey(name, [...BY_NAME.keys()])
      throw new ConfigError(`unknown environment variable ${name}${near ? ` (did you mean ${near}?)` : ''}`)
    }
    config[key] = parse(key, name, text)
    // Checked here too, so that the error names the variable the value came from.
    try {
      validateConfig({ [key]: config[key] })
    } catch (error) {
      throw new ConfigError(`${name}: ${(error as Error).message}`, { cause: error })
    }
  }
  return config as Partial<ConfigValues>
}
