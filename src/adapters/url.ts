import { ConfigError } from '../errors.js'
import { censorUrl } from '../config/conf.js'

/** The lower-case scheme of a URL (`memory`, `nats`...); a ConfigError naming `config.<key>` when it has none. */
export function scheme(url: string, key: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)
  if (!match) throw new ConfigError(`config.${key} is not a valid URL: ${censorUrl(url)}`)
  return match[1].toLowerCase()
}

/** The name after `memory://`: brokers and result stores of that name are shared in the process. */
export function memoryName(url: string): string {
  return url.replace(/^memory:\/\//i, '').replace(/\/.*$/, '')
}

/** The host part of a URL (`nats://h:1/x` gives `h:1`); empty for `nats://`. */
export function hostOf(url: string): string {
  return url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '')
}
