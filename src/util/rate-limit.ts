import { InvalidArgumentError } from '../errors.js'

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Parses a rate limit, Celery style: `'10/s'`, `'10/m'`, `'10/h'`, or a number of tasks per
 * second. Returns the interval between tasks in ms (0 = unlimited).
 */
export function parseRateLimit(limit: string | number, field: string): number {
  if (typeof limit === 'number') {
    if (!Number.isFinite(limit) || limit < 0) throw new InvalidArgumentError(`${field} must be a non-negative number of tasks per second or a string like '10/m', got ${limit}`)
    return limit === 0 ? 0 : 1000 / limit
  }
  const match = typeof limit === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([smh]))?\s*$/.exec(limit) : null
  if (!match) throw new InvalidArgumentError(`${field} must be a rate like '10/s', '10/m' or '10/h', got ${JSON.stringify(limit)}`)
  const count = Number(match[1])
  return count === 0 ? 0 : UNIT_MS[match[2] ?? 's'] / count
}
