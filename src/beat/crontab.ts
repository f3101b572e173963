/**
 * Celery's `crontab()`: the five calendar fields of a periodic schedule, each given as
 * Celery accepts it, compiled to sets of numbers.
 * @module
 */
import { InvalidArgumentError } from '../errors.js'

/** One field: a number, a Celery cron string (`'*'`, `'*\/15'`, `'1-5'`, `'1,3,5'`, `'mon-fri'`), or a list of these. */
export type CrontabValue = number | string | ReadonlyArray<number | string>

/** The fields of {@link crontab}; each is `'*'` (every value) unless given. */
export interface CrontabFields {
  /** 0-59. */
  minute?: CrontabValue
  /** 0-23. */
  hour?: CrontabValue
  /** 0-6 with 0 = Sunday (Celery's numbering), or names: `'sun'`, `'mon-fri'`, `'saturday'`. */
  dayOfWeek?: CrontabValue
  /** 1-31. */
  dayOfMonth?: CrontabValue
  /** 1-12, or names: `'jan'`, `'jun-aug'`. */
  monthOfYear?: CrontabValue
  /** Time zone of this schedule (IANA name). Default: the app's `timezone` config. */
  timezone?: string
}

type FieldName = Exclude<keyof CrontabFields, 'timezone'>

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** Each field's range and the names it accepts (a name's index plus `offset` is its number). */
const FIELDS: Record<FieldName, { min: number; max: number; names?: { list: string[]; offset: number } }> = {
  minute: { min: 0, max: 59 },
  hour: { min: 0, max: 23 },
  dayOfWeek: { min: 0, max: 6, names: { list: WEEKDAYS, offset: 0 } },
  dayOfMonth: { min: 1, max: 31 },
  monthOfYear: { min: 1, max: 12, names: { list: MONTHS, offset: 1 } },
}

/** Field names in cron-expression order (after seconds). */
export const CRON_ORDER: readonly FieldName[] = ['minute', 'hour', 'dayOfMonth', 'monthOfYear', 'dayOfWeek']

/**
 * A crontab schedule as data: validated and compiled when its entry is (so that an error names
 * the entry), by {@link compileCrontab}.
 */
export class Crontab {
  readonly fields: Readonly<CrontabFields>

  constructor(fields: CrontabFields) {
    this.fields = { ...fields }
  }

  /** Celery's form, fields in cron order: `<crontab: 30 7 * * 1 (m/h/dM/MY/d)>`. */
  toString(): string {
    const show = (name: FieldName) => String(this.fields[name] ?? '*').replace(/\s+/g, '')
    return `<crontab: ${CRON_ORDER.map(show).join(' ')} (m/h/dM/MY/d)>`
  }
}

/**
 * A crontab schedule, with Celery's fields and forms; fields left out mean every value.
 * Day of week and day of month, when both are given, must both match (Celery's rule, unlike
 * a cron string, where either may).
 * @example
 * crontab({ minute: 30, hour: 7, dayOfWeek: 1 })   // Mondays at 07:30
 * crontab({ minute: '*\/15' })                      // every quarter hour
 * crontab({ hour: '*\/2,1', dayOfWeek: 'mon-fri' }) // weekdays: even hours and 01:00
 */
export function crontab(fields: CrontabFields = {}): Crontab {
  if (typeof fields !== 'object' || fields === null) throw new InvalidArgumentError(`crontab() takes an object of fields, got ${String(fields)}`)
  for (const key of Object.keys(fields)) {
    if (key !== 'timezone' && !Object.hasOwn(FIELDS, key)) {
      throw new InvalidArgumentError(`crontab: unknown field "${key}" (fields: minute, hour, dayOfWeek, dayOfMonth, monthOfYear, timezone)`)
    }
  }
  return new Crontab(fields)
}

/** A compiled crontab: the numbers each field allows, and whether it was left as every value. */
export type CompiledCrontab = Record<FieldName, { values: number[]; all: boolean }>

/** Validates and expands every field of `tab`; errors name the field and the bad value. */
export function compileCrontab(tab: Crontab): CompiledCrontab {
  const compiled = {} as CompiledCrontab
  for (const name of CRON_ORDER) {
    const values = expandField(name, tab.fields[name] ?? '*')
    const { min, max } = FIELDS[name]
    compiled[name] = { values, all: values.length === max - min + 1 }
  }
  return compiled
}

function expandField(name: FieldName, value: CrontabValue): number[] {
  const parts = Array.isArray(value) ? value : [value]
  if (parts.length === 0) throw new InvalidArgumentError(`crontab ${name}: an empty list matches nothing`)
  const set = new Set<number>()
  for (const part of parts) {
    if (typeof part === 'number') set.add(checkNumber(name, part))
    else if (typeof part === 'string') for (const piece of part.split(',')) for (const n of expandPiece(name, piece.trim())) set.add(n)
    else throw new InvalidArgumentError(`crontab ${name}: expected a number, a string or a list of them, got ${JSON.stringify(part)}`)
  }
  return [...set].sort((a, b) => a - b)
}

/** One comma-separated piece: `*`, `*\/n`, `a`, `a-b`, `a-b/n` or `a/n` (from a to the maximum); ranges may wrap (`fri-mon`). */
function expandPiece(name: FieldName, piece: string): number[] {
  const { min, max } = FIELDS[name]
  const match = /^([^/-]+)(?:-([^/]+))?(?:\/(.+))?$/.exec(piece)
  if (!match) throw new InvalidArgumentError(`crontab ${name}: cannot read ${JSON.stringify(piece)}`)
  const [, from, to, stepText] = match
  const step = stepText === undefined ? 1 : Number(stepText)
  if (!Number.isInteger(step) || step < 1) throw new InvalidArgumentError(`crontab ${name}: the step in ${JSON.stringify(piece)} must be a positive integer`)
  const start = from === '*' ? min : toNumber(name, from)
  let end = from === '*' ? max : to !== undefined ? toNumber(name, to) : stepText !== undefined ? max : start
  if (from === '*' && to !== undefined) throw new InvalidArgumentError(`crontab ${name}: cannot read ${JSON.stringify(piece)}`)
  // A range that ends before it starts wraps around, as Celery's does ('fri-mon').
  if (end < start) end += max - min + 1
  const values: number[] = []
  for (let n = start; n <= end; n += step) values.push(n > max ? n - (max - min + 1) : n)
  return values
}

function toNumber(name: FieldName, text: string): number {
  const names = FIELDS[name].names
  if (/^\d+$/.test(text)) return checkNumber(name, Number(text))
  const index = names?.list.indexOf(text.slice(0, 3).toLowerCase()) ?? -1
  if (index === -1 || text.length < 3) {
    throw new InvalidArgumentError(`crontab ${name}: ${JSON.stringify(text)} is not a number${names ? ` or a name (${names.list.join(', ')})` : ''}`)
  }
  return index + names!.offset
}

function checkNumber(name: FieldName, n: number): number {
  const { min, max } = FIELDS[name]
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`crontab ${name}: ${n} is out of range ${min}-${max}`)
  return n
}
