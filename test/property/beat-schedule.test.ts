import fc from 'fast-check'
import t from 'tap'
import { compileSchedule } from '../../src/beat/schedules.js'
import { crontab, type CrontabFields } from '../../src/beat/crontab.js'

// Not Australia/Lord_Howe: its clocks change by half an hour, and cron-parser cannot step over
// that change, so a crontab whose fire times all fall on it (Sunday 1 April, 2:00) is refused as
// never firing. The README's Beat section says so.
const ZONES = ['UTC', 'America/New_York', 'Europe/London', 'Asia/Kolkata', 'Australia/Adelaide', 'Pacific/Chatham']
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']

/** The wall-clock fields of `ms` in `zone`, from Intl: a reference independent of cron-parser. */
function wallClock(ms: number, zone: string) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', weekday: 'short', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  )
  return { minute: Number(parts.minute), hour: Number(parts.hour), dayOfMonth: Number(parts.day), monthOfYear: Number(parts.month), dayOfWeek: WEEKDAYS.indexOf(parts.weekday), second: Number(parts.second) }
}

const subset = (min: number, max: number) => fc.uniqueArray(fc.integer({ min, max }), { minLength: 1, maxLength: 4 })
const fields = fc.record(
  { minute: subset(0, 59), hour: subset(0, 23), dayOfWeek: subset(0, 6), dayOfMonth: subset(1, 28), monthOfYear: subset(1, 12) },
  { requiredKeys: [] },
) satisfies fc.Arbitrary<CrontabFields>
// 2000 to 2060: both DST changes of every zone above, many times over.
const instant = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2060, 0, 1) })

t.test('beat property - a crontab next fire time is after now, on a whole minute, and matches every field in its zone', async (t) => {
  fc.assert(
    fc.property(fields, fc.constantFrom(...ZONES), instant, (spec, zone, now) => {
      const schedule = compileSchedule(crontab(spec), { where: 'p', timezone: zone, now })
      const next = schedule.next(now)
      if (!(next > now)) return false
      const wall = wallClock(next, zone)
      if (wall.second !== 0 || next % 1000 !== 0) return false
      // A time the clocks skip (spring forward) fires at the same minute just after the gap, as
      // the DST unit tests show: then the wall clock reads one hour later than the crontab's hour.
      const afterGap = (wall.hour - wallClock(next - 3_600_000, zone).hour + 24) % 24 === 2
      for (const [name, values] of Object.entries(spec) as [keyof typeof wall, number[] | undefined][]) {
        if (!values || values.includes(wall[name])) continue
        if (!(name === 'hour' && afterGap && values.includes((wall.hour + 23) % 24))) return false
      }
      // The scheduler sends it when it is due, and not a moment before.
      return schedule.due(now, next - 1) === undefined && schedule.due(now, next) === next
    }),
    { numRuns: 300, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED), path: process.env.FC_PATH } : {}) },
  )
})

t.test('beat property - an interval fires strictly later, at a whole number of periods from the last run', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 86_400_000 }), instant, fc.integer({ min: 0, max: 10 ** 9 }), fc.boolean(), (everyMs, last, elapsed, relative) => {
      const schedule = compileSchedule(`${everyMs}ms`, { where: 'p', timezone: 'UTC', relative, now: last })
      const next = schedule.next(last)
      const due = schedule.due(last, last + elapsed)
      const anchor = relative ? 0 : last
      const onGrid = (ms: number) => (ms - anchor) % everyMs === 0
      return next > last && onGrid(next) && (due === undefined ? last + elapsed < next : due > last && due <= last + elapsed && onGrid(due) && due + everyMs > last + elapsed)
    }),
    { numRuns: 500 },
  )
})
