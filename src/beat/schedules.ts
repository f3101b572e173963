/**
 * When periodic tasks fire: every N seconds, or on a calendar (a {@link Crontab} or a cron
 * string, evaluated by cron-parser in a time zone, across DST changes).
 * @module
 */
import { CronExpressionParser } from 'cron-parser'
import { ConfigError } from '../errors.js'
import { toMs, type Duration } from '../util/duration.js'
import { isTimeZone } from '../util/time-zone.js'
import { compileCrontab, Crontab, CRON_ORDER, type CompiledCrontab } from './crontab.js'

/** What an entry's `schedule` may be: seconds or a duration string, a cron string, or a {@link crontab}. */
export type ScheduleSpec = Duration | Crontab

/** When an entry fires, as a function of its last run. Times are epoch ms. */
export interface Schedule {
  /** The first fire time after a run at `last` (strictly later). */
  next(last: number): number
  /**
   * The fire time a scheduler fires at `now` after a run at `last`: the latest fire time in
   * `(last, now]`, so that missed runs collapse into one; `undefined` when none is due.
   */
  due(last: number, now: number): number | undefined
  /** The schedule as written, for logs. */
  toString(): string
}

/**
 * Every `everyMs`, counted from the last run (Celery's `schedule`). With `relative`, fire
 * times are whole multiples of the interval since the Unix epoch instead (every 3600 s: on
 * the hour), the same on every host whatever its start time.
 */
export class IntervalSchedule implements Schedule {
  readonly everyMs: number
  readonly relative: boolean

  constructor(everyMs: number, relative = false) {
    this.everyMs = everyMs
    this.relative = relative
  }

  next(last: number): number {
    return this.relative ? (Math.floor(last / this.everyMs) + 1) * this.everyMs : last + this.everyMs
  }

  due(last: number, now: number): number | undefined {
    const base = this.relative ? Math.floor(last / this.everyMs) * this.everyMs : last
    const periods = Math.floor((now - base) / this.everyMs)
    const at = base + periods * this.everyMs
    return periods >= 1 && at > last ? at : undefined
  }

  toString(): string {
    return `<every ${this.everyMs / 1000} s${this.relative ? ', relative' : ''}>`
  }
}

// A calendar search gives up after this many candidate days (a day of week and a day of
// month that seldom meet: Friday the 13th comes within 14 months).
const SEARCH_LIMIT = 5_000
const DAY_MS = 86_400_000

// The longest interval: no schedule waits longer, so more is a typo or an overflow (1e308 s is
// Infinity ms), an entry that would never fire; fire times stay far inside what a Date holds.
const MAX_INTERVAL_MS = 100 * 365.25 * DAY_MS

/**
 * A cron expression (5 fields, or 6 with seconds first) in a time zone. With `weekdays`, a
 * candidate time must also fall on one of those days (0 = Sunday): Celery's crontab needs
 * both day fields to match, where cron is content with either.
 */
export class CronSchedule implements Schedule {
  readonly expression: string
  readonly timezone: string
  readonly #weekdays: ReadonlySet<number> | undefined
  readonly #label: string

  constructor(expression: string, timezone: string, options: { weekdays?: readonly number[]; label?: string } = {}) {
    this.expression = expression
    this.timezone = timezone
    this.#weekdays = options.weekdays && new Set(options.weekdays)
    this.#label = options.label ?? expression
  }

  next(last: number): number {
    return this.#search(last, 'next')
  }

  due(last: number, now: number): number | undefined {
    const next = this.next(last)
    if (next > now) return undefined
    // The latest fire time at or before now: prev() is strictly before its start. Searching
    // back, cron-parser misses a time the clocks skipped (fired just after the gap, as next()
    // finds it), so never answer earlier than next: that would be a run already made.
    return Math.max(this.#search(now + 1, 'prev'), next)
  }

  #search(from: number, direction: 'next' | 'prev'): number {
    const parse = (at: number) => CronExpressionParser.parse(this.expression, { tz: this.timezone, currentDate: new Date(at) })
    let cursor = from
    let times = parse(cursor)
    let skips = 0
    for (let i = 0; i < SEARCH_LIMIT; i++) {
      let at
      try {
        at = times[direction]()
      } catch (error) {
        // cron-parser can give up on a clock change in a half-hour zone (Lord Howe's 2:00 in
        // 2001 loops it): search on from the day after (before) that one. More than a couple
        // of such days in a row is an expression that never matches: its error stands.
        if (++skips > 2) throw error
        cursor += direction === 'next' ? DAY_MS : -DAY_MS
        times = parse(cursor)
        continue
      }
      if (!this.#weekdays || this.#weekdays.has(at.getDay())) return at.getTime()
      // Not one of the weekdays: skip the rest of that day in the zone.
      if (direction === 'next') at.setEndOfDay()
      else at.setStartOfDay()
      cursor = at.getTime()
      times.reset(at)
    }
    throw new ConfigError(`${this.#label} finds no fire time within ${SEARCH_LIMIT} candidate days`)
  }

  toString(): string {
    return `${this.#label}${this.timezone === 'UTC' ? '' : ` (${this.timezone})`}`
  }
}

/** What {@link compileSchedule} needs besides the spec. */
export interface ScheduleContext {
  /** How the entry is named in errors, e.g. `beat entry "nightly"`. */
  where: string
  /** The app's `timezone`. */
  timezone: string
  /** Align intervals to the epoch (the entry's `relative`). */
  relative?: boolean
  /** The time a first fire time is checked from, so that a schedule that never fires is refused now. */
  now: number
}

/**
 * Validates a schedule and makes a {@link Schedule} of it. A string with spaces, or starting
 * with `@`, is a cron expression; any other string is a duration. Errors are
 * {@link ConfigError}s naming the entry.
 */
export function compileSchedule(spec: ScheduleSpec, ctx: ScheduleContext): Schedule {
  const fail = (why: string, cause?: unknown): never => {
    throw new ConfigError(`${ctx.where}: ${why}`, cause === undefined ? undefined : { cause })
  }
  let schedule: Schedule
  if (spec instanceof Crontab) {
    const zone = spec.fields.timezone ?? ctx.timezone
    if (!isTimeZone(zone)) fail(`unknown time zone ${JSON.stringify(zone)}`)
    let compiled: CompiledCrontab | undefined
    try {
      compiled = compileCrontab(spec)
    } catch (error) {
      fail((error as Error).message, error)
    }
    schedule = cronOfCrontab(compiled!, zone, spec.toString())
  } else if (typeof spec === 'string' && (/\s/.test(spec.trim()) || spec.trim().startsWith('@'))) {
    if (!isTimeZone(ctx.timezone)) fail(`unknown time zone ${JSON.stringify(ctx.timezone)}`)
    const expression = spec.trim()
    const count = expression.split(/\s+/).length
    if (!expression.startsWith('@') && count !== 5 && count !== 6) {
      fail(`cron expression ${JSON.stringify(spec)} has ${count} fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`)
    }
    try {
      CronExpressionParser.parse(expression, { tz: ctx.timezone })
    } catch (error) {
      fail(`bad cron expression ${JSON.stringify(spec)}: ${(error as Error).message}`, error)
    }
    schedule = new CronSchedule(expression, ctx.timezone)
  } else if (typeof spec === 'number' || typeof spec === 'string') {
    if (spec === '') fail('schedule is an empty string; give seconds, a duration like "10s", a cron string or crontab()')
    let everyMs = 0
    try {
      everyMs = toMs(spec, 'schedule')
    } catch {
      fail(`schedule ${JSON.stringify(spec)} is neither seconds, a duration like "10s", nor a cron expression of 5 or 6 fields`)
    }
    if (!(everyMs > 0)) fail(`schedule must be a positive interval, got ${JSON.stringify(spec)}`)
    // Below a millisecond every run is missed: each send is a broker round trip.
    if (everyMs < 1) fail(`schedule must be an interval of at least 1 ms, got ${JSON.stringify(spec)}`)
    if (!(everyMs <= MAX_INTERVAL_MS)) fail(`schedule must be an interval of at most 100 years, got ${JSON.stringify(spec)}`)
    schedule = new IntervalSchedule(everyMs, ctx.relative)
  } else {
    return fail(`schedule must be seconds, a duration string, a cron string or crontab(), got ${JSON.stringify(spec) ?? String(spec)}`)
  }
  try {
    schedule.next(ctx.now)
  } catch (error) {
    fail(`schedule never fires: ${(error as Error).message}`, error)
  }
  return schedule
}

/**
 * A crontab as a cron expression. When both day fields are restricted, the expression keeps
 * the day of month and the schedule filters on the day of week, so both must match.
 */
function cronOfCrontab(tab: CompiledCrontab, timezone: string, label: string): CronSchedule {
  const both = !tab.dayOfMonth.all && !tab.dayOfWeek.all
  const field = (name: (typeof CRON_ORDER)[number]) => (tab[name].all || (both && name === 'dayOfWeek') ? '*' : tab[name].values.join(','))
  return new CronSchedule(CRON_ORDER.map(field).join(' '), timezone, { label, weekdays: both ? tab.dayOfWeek.values : undefined })
}
