import { InvalidArgumentError } from '../errors.js'

/** A duration: seconds as a number (Celery's unit), or a string such as `'500ms'`, `'10s'`, `'5m'`, `'2h'`, `'1d'`. */
export type Duration = number | string

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/

/**
 * Converts a duration to milliseconds.
 * @param field names the option in the error message.
 * @example toMs('500ms', 'countdown') // 500
 */
export function toMs(value: Duration, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new InvalidArgumentError(`${field} must be a non-negative number of seconds or a duration string, got ${value}`)
    }
    return value * 1000
  }
  const match = typeof value === 'string' ? PATTERN.exec(value) : null
  if (!match) {
    throw new InvalidArgumentError(`${field} must be a non-negative number of seconds or a duration string like '10s', got ${JSON.stringify(value)}`)
  }
  return Number(match[1]) * UNITS[match[2] ?? 's']
}

/** Like {@link toMs}, passing `undefined` and `null` through. */
export function optionalMs(value: Duration | undefined | null, field: string): number | undefined {
  return value === undefined || value === null ? undefined : toMs(value, field)
}
