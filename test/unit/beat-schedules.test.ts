import t from 'tap'
import { compileSchedule, type ScheduleSpec } from '../../src/beat/schedules.js'
import { compileEntry } from '../../src/beat/entry.js'
import { crontab } from '../../src/beat/crontab.js'
import { createApp, ConfigError, InvalidArgumentError } from '../../src/index.js'

const NOW = Date.parse('2026-03-02T10:07:13Z') // a Monday

function schedule(spec: ScheduleSpec, timezone = 'UTC', relative = false) {
  return compileSchedule(spec, { where: 'beat entry "e"', timezone, relative, now: NOW })
}

/** The next `n` fire times after `from`, as ISO strings. */
function fires(spec: ScheduleSpec, from: string, n: number, timezone = 'UTC'): string[] {
  const s = schedule(spec, timezone)
  const out: string[] = []
  let at = Date.parse(from)
  for (let i = 0; i < n; i++) out.push(new Date((at = s.next(at))).toISOString())
  return out
}

t.test('beat schedules - an interval fires every period from the last run; missed periods collapse into the latest', async (t) => {
  const every = schedule(30)
  t.equal(every.next(NOW), NOW + 30_000)
  t.equal(every.due(NOW, NOW + 29_999), undefined, 'not yet')
  t.equal(every.due(NOW, NOW + 30_000), NOW + 30_000, 'due on time')
  t.equal(every.due(NOW, NOW + 95_000), NOW + 90_000, 'three periods missed: one firing, at the latest')
  t.equal(schedule('500ms').next(NOW), NOW + 500, 'duration strings')
})

t.test('beat schedules - a relative interval fires on whole multiples of it since the epoch', async (t) => {
  const hourly = schedule(3600, 'UTC', true)
  t.equal(new Date(hourly.next(NOW)).toISOString(), '2026-03-02T11:00:00.000Z')
  t.equal(hourly.due(NOW, Date.parse('2026-03-02T13:30:00Z')), Date.parse('2026-03-02T13:00:00Z'))
  t.equal(hourly.due(Date.parse('2026-03-02T13:00:00Z'), Date.parse('2026-03-02T13:59:59Z')), undefined)
})

t.test('beat schedules - crontab */30 minutes, lists and ranges', async (t) => {
  t.same(fires(crontab({ minute: '*/30' }), '2026-03-02T10:07:13Z', 3), ['2026-03-02T10:30:00.000Z', '2026-03-02T11:00:00.000Z', '2026-03-02T11:30:00.000Z'])
  t.same(fires(crontab({ minute: 0, hour: [5, 10, 15, 20] }), '2026-03-02T10:07:13Z', 3), ['2026-03-02T15:00:00.000Z', '2026-03-02T20:00:00.000Z', '2026-03-03T05:00:00.000Z'])
  t.same(fires(crontab({ minute: '15,45', hour: '9-10' }), '2026-03-02T10:07:13Z', 3), ['2026-03-02T10:15:00.000Z', '2026-03-02T10:45:00.000Z', '2026-03-03T09:15:00.000Z'])
  // Celery's example: even hours and 01:00, on Mondays ('*/2, 1' with a space).
  t.same(fires(crontab({ minute: 0, dayOfWeek: 1, hour: '*/2, 1' }), '2026-03-02T19:00:00Z', 4), ['2026-03-02T20:00:00.000Z', '2026-03-02T22:00:00.000Z', '2026-03-09T00:00:00.000Z', '2026-03-09T01:00:00.000Z'])
  t.same(fires(crontab({ minute: '10-50/20', hour: 10 }), '2026-03-02T10:00:00Z', 3), ['2026-03-02T10:10:00.000Z', '2026-03-02T10:30:00.000Z', '2026-03-02T10:50:00.000Z'])
})

t.test('beat schedules - crontab dayOfWeek: 0 is Sunday, names and wrapping ranges', async (t) => {
  const days = (spec: ScheduleSpec) => fires(spec, '2026-03-01T12:00:00Z', 4).map((iso) => new Date(iso).getUTCDay())
  t.same(days(crontab({ minute: 0, hour: 7, dayOfWeek: 0 })), [0, 0, 0, 0], 'Sundays')
  t.same(days(crontab({ minute: 0, hour: 7, dayOfWeek: 'mon-fri' })), [1, 2, 3, 4])
  t.same(days(crontab({ minute: 0, hour: 7, dayOfWeek: 'fri-mon' })), [1, 5, 6, 0], 'wraps over the weekend')
  t.same(days(crontab({ minute: 0, hour: 7, dayOfWeek: ['saturday', 'sun'] })), [6, 0, 6, 0])
  t.same(fires(crontab({ minute: 30, hour: 7, dayOfWeek: 1 }), '2026-03-02T10:07:13Z', 2), ['2026-03-09T07:30:00.000Z', '2026-03-16T07:30:00.000Z'], "Celery's Monday 7:30")
})

t.test('beat schedules - crontab needs both day fields to match (Celery), a cron string either (cron)', async (t) => {
  // Friday the 13th: 2026-03-13, then 2026-11-13.
  t.same(fires(crontab({ minute: 0, hour: 0, dayOfMonth: 13, dayOfWeek: 'fri' }), '2026-03-01T00:00:00Z', 2), ['2026-03-13T00:00:00.000Z', '2026-11-13T00:00:00.000Z'])
  t.same(fires('0 0 13 * 5', '2026-03-01T00:00:00Z', 2), ['2026-03-06T00:00:00.000Z', '2026-03-13T00:00:00.000Z'])
  t.same(fires(crontab({ minute: 0, hour: 0, dayOfMonth: 1, monthOfYear: 'jun-aug' }), '2026-03-01T00:00:00Z', 3), ['2026-06-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z', '2026-08-01T00:00:00.000Z'])
})

t.test('beat schedules - cron strings, with seconds as a sixth field', async (t) => {
  t.same(fires('*/10 * * * * *', '2026-03-02T10:07:13Z', 2), ['2026-03-02T10:07:20.000Z', '2026-03-02T10:07:30.000Z'])
  t.same(fires('@daily', '2026-03-02T10:07:13Z', 1), ['2026-03-03T00:00:00.000Z'])
})

t.test('beat schedules - time zones: fire times are wall-clock times of the zone', async (t) => {
  t.same(fires(crontab({ minute: 0, hour: 9 }), '2026-03-02T10:07:13Z', 1, 'Asia/Tokyo'), ['2026-03-03T00:00:00.000Z'], '09:00 in Tokyo is 00:00 UTC')
  t.same(fires(crontab({ minute: 0, hour: 9, timezone: 'Europe/London' }), '2026-03-02T10:07:13Z', 1, 'Asia/Tokyo'), ['2026-03-03T09:00:00.000Z'], "the crontab's own zone wins")
  t.same(fires('0 9 * * *', '2026-03-02T10:07:13Z', 1, 'America/New_York'), ['2026-03-02T14:00:00.000Z'])
})

t.test('beat schedules - DST in America/New_York: spring forward and fall back', async (t) => {
  const zone = 'America/New_York'
  // 2026-03-08: 02:00 EST jumps to 03:00 EDT. 02:30 does not exist: it fires once, at 03:30.
  t.same(fires(crontab({ minute: 30, hour: 2 }), '2026-03-07T12:00:00Z', 3, zone), ['2026-03-08T07:30:00.000Z', '2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z'])
  // Hourly skips the missing hour: 01:00 EST, then 03:00 EDT.
  t.same(fires(crontab({ minute: 0 }), '2026-03-08T05:30:00Z', 2, zone), ['2026-03-08T06:00:00.000Z', '2026-03-08T07:00:00.000Z'])
  // 2026-11-01: 02:00 EDT falls back to 01:00 EST. A daily 01:30 fires once.
  t.same(fires(crontab({ minute: 30, hour: 1 }), '2026-10-31T12:00:00Z', 2, zone), ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'])
  // Hourly fires at both 01:00s (EDT then EST), an hour apart.
  t.same(fires(crontab({ minute: 0 }), '2026-11-01T04:30:00Z', 3, zone), ['2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z'])
  // Every 30 minutes keeps a 30-minute rhythm in UTC across the change.
  const half = fires(crontab({ minute: '*/30' }), '2026-03-08T06:10:00Z', 3, zone)
  t.same(half, ['2026-03-08T06:30:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-08T07:30:00.000Z'])
})

t.test('beat schedules - bad schedules are ConfigErrors naming the entry', async (t) => {
  const bad: [ScheduleSpec, RegExp][] = [
    ['* * *', /^beat entry "e": cron expression "\* \* \*" has 3 fields; expected 5/],
    ['1 2 3 4 5 6 7', /has 7 fields/],
    ['61 * * * *', /^beat entry "e": bad cron expression "61 \* \* \* \*": .*61/],
    ['', /^beat entry "e": schedule is an empty string/],
    ['soon', /^beat entry "e": schedule "soon" is neither seconds/],
    [0, /^beat entry "e": schedule must be a positive interval, got 0/],
    [1e-9, /^beat entry "e": schedule must be an interval of at least 1 ms, got 1e-9/],
    ['0.0001ms', /^beat entry "e": schedule must be an interval of at least 1 ms, got "0.0001ms"/],
    [-5, /^beat entry "e": schedule "?-5"? is neither/],
    [crontab({ minute: 61 }), /^beat entry "e": crontab minute: 61 is out of range 0-59$/],
    [crontab({ hour: '*/0' }), /^beat entry "e": crontab hour: the step in "\*\/0" must be a positive integer$/],
    [crontab({ dayOfWeek: 7 }), /crontab dayOfWeek: 7 is out of range 0-6/],
    [crontab({ dayOfWeek: 'funday' }), /crontab dayOfWeek: "funday" is not a number or a name \(sun, mon/],
    [crontab({ monthOfYear: [] }), /crontab monthOfYear: an empty list matches nothing/],
    [crontab({ timezone: 'Mars/Olympus' }), /^beat entry "e": unknown time zone "Mars\/Olympus"$/],
    [crontab({ dayOfMonth: 30, monthOfYear: 2 }), /^beat entry "e": schedule never fires/],
    [{ every: 5 } as unknown as ScheduleSpec, /^beat entry "e": schedule must be seconds, a duration string, a cron string or crontab\(\)/],
  ]
  for (const [spec, message] of bad) t.throws(() => schedule(spec), { name: 'ConfigError', message }, JSON.stringify(spec) ?? String(spec))
  t.throws(() => schedule('0 9 * * *', 'Mars/Olympus'), { name: 'ConfigError', message: 'beat entry "e": unknown time zone "Mars/Olympus"' })
  t.throws(() => crontab({ minutes: 5 } as never), new InvalidArgumentError('crontab: unknown field "minutes" (fields: minute, hour, dayOfWeek, dayOfMonth, monthOfYear, timezone)'))
})

t.test('beat entries - bad entries name the entry and the field', async (t) => {
  const app = createApp({ name: 'beat-entries' })
  app.task('t.add', (x: number, y: number) => x + y)
  const ctx = { timezone: 'UTC', now: NOW, tasks: app.tasks }
  const cases: [unknown, string][] = [
    [{ task: 't.add', schedule: 5, args: [1, 2], every: 3 }, 'beat entry "x": unknown field "every" (fields: task, schedule, args, kwargs, options, relative)'],
    [{ schedule: 5 }, 'beat entry "x": task must be a task name, got undefined'],
    [{ task: 't.add' }, 'beat entry "x": schedule is required'],
    [{ task: 't.add', schedule: 5, args: 3 }, 'beat entry "x": args must be an array, got 3'],
    [{ task: 't.add', schedule: 5, args: [1] }, 'beat entry "x": t.add takes 2 arguments, got 1'],
    [{ task: 't.add', schedule: 5, args: [1, 2], options: { taskId: 'mine' } }, 'beat entry "x": options.taskId cannot be set: beat sets it for every firing'],
    [{ task: 't.add', schedule: 5, args: [1, 2], options: { expires: new Date() } }, 'beat entry "x": options.expires must be seconds (or a duration string) from each fire time, not a Date'],
    [{ task: 't.add', schedule: 5, args: [1, 2], relative: 'yes' }, 'beat entry "x": relative must be a boolean, got "yes"'],
  ]
  for (const [config, message] of cases) t.throws(() => compileEntry('x', config as never, ctx), new ConfigError(message), message)
  const entry = compileEntry('x', { task: 't.add', schedule: '10s', args: [1, 2], options: { queue: 'q', expires: 5 } }, ctx)
  t.same({ options: entry.options, expiresMs: entry.expiresMs }, { options: { queue: 'q' }, expiresMs: 5000 })
})

t.test('beat config - beatSchedule, timezone and the beat durations are checked with the other keys', async (t) => {
  t.throws(() => createApp({ config: { timezone: 'Mars/Olympus' } }), new ConfigError(`config.timezone must be a time zone name such as 'UTC' or 'Europe/London', got "Mars/Olympus"`))
  t.throws(() => createApp({ config: { beatSchedule: [] as never } }), new ConfigError('config.beatSchedule must be an object, got []'))
  t.throws(() => createApp({ config: { beatSchedule: { nightly: 5 as never } } }), new ConfigError('config.beatSchedule["nightly"] must be an object, got 5'))
  t.throws(() => createApp({ config: { beatLeaseTime: 0 } }), new ConfigError('config.beatLeaseTime must be a positive duration, got 0'))
  t.throws(() => createApp({ config: { beatMaxInterval: 'often' } }), { name: 'ConfigError', message: /^config.beatMaxInterval must be a non-negative number of seconds/ })
})

t.test('beat - app.addPeriodicTask adds a checked entry to beatSchedule, named after the signature', async (t) => {
  const app = createApp({ name: 'beat-add' })
  const add = app.task('t.add', (x: number, y: number) => x + y)
  t.equal(app.addPeriodicTask(10, add.s(2, 2)), 't.add(2, 2)')
  t.equal(app.addPeriodicTask(crontab({ hour: 7, minute: 30, dayOfWeek: 1 }), add.s(1, 1).set({ queue: 'q' }), { name: 'mondays', expires: 60 }), 'mondays')
  t.same(Object.keys(app.conf.beatSchedule), ['t.add(2, 2)', 'mondays'])
  t.match(app.conf.beatSchedule.mondays, { task: 't.add', args: [1, 1], options: { queue: 'q', expires: 60 } })
  t.throws(() => app.addPeriodicTask('61 * * * *', add.s(1, 1), { name: 'broken' }), { name: 'ConfigError', message: /^beat entry "broken": bad cron expression/ })
  t.throws(() => app.addPeriodicTask(5, add.s(1), { name: 'short' }), new ConfigError('beat entry "short": t.add takes 2 arguments, got 1'))
  t.notOk('broken' in app.conf.beatSchedule, 'a bad entry is not added')
})
