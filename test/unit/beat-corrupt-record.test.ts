// Found by an outside audit: one last-run record in the beat store that was not JSON stopped
// every entry ("beat: check failed ... SyntaxError", every second, naming neither entry nor
// key); a record of {}, null or {"at":"x"} silently stopped its own entry for good; and an
// interval of 1e308 s or "9999999999999d" was accepted as an entry that never fires.
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { createApp, type BeatEntryConfig, type Logger } from '../../src/index.js'
import { decodeHeaders } from '../../src/protocol/envelope.js'
import { FileBeatStore } from '../../src/beat/store.js'
import { compileSchedule, type ScheduleSpec } from '../../src/beat/schedules.js'
import { SimulatedClock } from '../../src/util/clock.js'
import type { Beat } from '../../src/beat/beat.js'
import { tempDir } from '../helpers/files.js'

const START = Date.parse('2026-01-05T00:00:00Z')
const at = (ms: number) => new Date(START + ms).toISOString()

/** A logger that keeps every line, as `LEVEL message`. */
function capture(): Logger & { lines: string[] } {
  const lines: string[] = []
  const write = (level: string) => (message: string) => void lines.push(`${level} ${message}`)
  return { lines, debug: write('DEBUG'), info: write('INFO'), warn: write('WARN'), error: write('ERROR') }
}

let apps = 0

/**
 * A beat on its own memory broker and simulated clock whose schedule file already holds
 * `records` (key -> stored value), as a hand edit or another program would leave it.
 */
async function setup(t: Test, schedule: Record<string, BeatEntryConfig>, records: Record<string, string>) {
  const clock = new SimulatedClock(START)
  const file = `${tempDir(t)}/schedule.json`
  writeFileSync(file, JSON.stringify({ entries: Object.fromEntries(Object.entries(records).map(([key, value]) => [key, { value, revision: 1 }])) }))
  const app = createApp({ name: `beat-corrupt-${++apps}`, broker: `memory://beat-corrupt-${apps}`, clock, logger: capture(), config: { beatSchedule: schedule, beatLeaseTime: 3 } })
  t.teardown(() => app.close())
  const transport = await app.transport()
  await transport.declareQueue({ name: 'celery' })
  const ids: string[] = []
  transport.consume('celery', (delivery) => {
    ids.push(decodeHeaders(delivery.body).id)
    delivery.ack()
  }).pull(100_000)
  const logger = capture()
  const beat: Beat = app.beat({ logger, store: new FileBeatStore(file) })
  t.teardown(() => beat.stop())
  return {
    beat,
    logger,
    file,
    /** The fire times sent for `entry` (task ids `<entry>:<fire time>`), in the order they arrived. */
    sent: (entry: string) => ids.filter((id) => id.startsWith(`${entry}:`)).map((id) => id.slice(entry.length + 1)),
    /** The last run the schedule file now holds for `entry`. */
    stored: (entry: string) => (JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, { value: string }> }).entries[`entry.${entry}`]?.value,
    warnings: () => logger.lines.filter((line) => line.startsWith('WARN') && line.includes('cannot be read')),
    async advance(ms: number, step = 100) {
      for (let done = 0; done < ms; done += step) {
        clock.advance(Math.min(step, ms - done))
        await beat.idle()
      }
      for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
    },
  }
}

const everySecond = { a: { task: 't.a', schedule: 1 }, b: { task: 't.b', schedule: 1 } } satisfies Record<string, BeatEntryConfig>

t.test('beat - a last-run record that is not JSON is taken as never run, named once in a warning, and the other entries run as usual', async (t) => {
  const s = await setup(t, everySecond, { 'entry.a': 'not json', 'entry.b': JSON.stringify({ at: START - 500, count: 7 }) })
  await s.beat.start()
  await s.advance(3_050)
  t.same(s.sent('b'), [at(500), at(1500), at(2500)], 'b keeps its grid from its stored last run')
  t.same(s.sent('a'), [at(1000), at(2000), at(3000)], 'a first fires one period after start, as a new entry does')
  t.same(s.warnings(), [`WARN beat: entry a's last run (key "entry.a" of ${s.file}) cannot be read: not JSON: "not json"; taking it as never run, and overwriting it at the next run, ${at(1000)}`])
  t.same(s.logger.lines.filter((line) => line.startsWith('ERROR')), [], 'no check fails')
  t.equal(s.stored('a'), JSON.stringify({ at: START + 3000, count: 3 }), 'the record is overwritten by the runs since')
})

t.test('beat - a last-run record of the wrong shape is taken as never run, with what is wrong, instead of stopping its entry for good', async (t) => {
  const cases: [string, string][] = [
    ['{}', 'at must be a time in epoch milliseconds, got undefined'],
    ['null', 'expected an object { at, count }, got null'],
    ['[1,2]', 'expected an object { at, count }, got [1,2]'],
    ['{"at":"x"}', 'at must be a time in epoch milliseconds, got "x"'],
    ['{"at":"2026-01-05T00:00:00Z","count":1}', 'at must be a time in epoch milliseconds, got "2026-01-05T00:00:00Z"'],
    ['{"at":1e300,"count":1}', 'at must be a time in epoch milliseconds, got 1e+300'],
    [`{"at":${START},"count":-1}`, 'count must be a non-negative integer, got -1'],
    [`{"at":${START},"count":"many"}`, 'count must be a non-negative integer, got "many"'],
  ]
  for (const [value, problem] of cases) {
    const s = await setup(t, everySecond, { 'entry.a': value })
    await s.beat.start()
    await s.advance(2_050)
    t.same(s.sent('a'), [at(1000), at(2000)], `${value}: a runs from now`)
    t.same(s.sent('b'), [at(1000), at(2000)], `${value}: b runs`)
    t.same(s.warnings(), [`WARN beat: entry a's last run (key "entry.a" of ${s.file}) cannot be read: ${problem}; taking it as never run, and overwriting it at the next run, ${at(1000)}`], value)
    t.equal(s.stored('a'), JSON.stringify({ at: START + 2000, count: 2 }), `${value}: overwritten`)
    await s.beat.stop()
  }
})

t.test('beat - a long unreadable value is shortened in the warning', async (t) => {
  const s = await setup(t, everySecond, { 'entry.a': 'x'.repeat(5_000) })
  await s.beat.start()
  await s.advance(1_050)
  t.same(s.sent('a'), [at(1000)])
  t.match(s.warnings(), [`cannot be read: not JSON: "${'x'.repeat(79)}... (5002 characters); taking it as never run`])
})

t.test('beat - an entry whose check fails for its own reason is logged by name and tried again later; the others run on', async (t) => {
  // A last run at the very end of what a Date holds: readable, but a cron search from there fails.
  const s = await setup(t, { a: { task: 't.a', schedule: '* * * * * *' }, b: { task: 't.b', schedule: 1 } }, { 'entry.a': JSON.stringify({ at: 8.64e15, count: 1 }) })
  await s.beat.start()
  await s.advance(3_050)
  t.same(s.sent('b'), [at(1000), at(2000), at(3000)])
  t.same(s.sent('a'), [])
  const errors = s.logger.lines.filter((line) => line.startsWith('ERROR'))
  t.same(errors, [at(1000), at(3000), at(7000)].map((retry) => `ERROR beat: could not check entry a; trying again at ${retry}`), 'named, and backing off')
})

t.test('beat schedules - an interval too long to ever fire is a ConfigError naming the entry', async (t) => {
  const schedule = (spec: ScheduleSpec) => compileSchedule(spec, { where: 'beat entry "e"', timezone: 'UTC', now: START })
  const bad: ScheduleSpec[] = [1e308, Number.MAX_VALUE, '9999999999999d', '36525.01d', 3.2e9]
  for (const spec of bad) t.throws(() => schedule(spec), { name: 'ConfigError', message: `beat entry "e": schedule must be an interval of at most 100 years, got ${JSON.stringify(spec)}` }, String(spec))
  t.equal(schedule('36525d').toString(), '<every 3155760000 s>', '100 years is accepted')
  const app = createApp({ name: 'beat-corrupt-config', clock: new SimulatedClock(START), config: { beatSchedule: { never: { task: 't.never', schedule: 1e308 } } } })
  t.teardown(() => app.close())
  await t.rejects(app.beat().start(), { name: 'ConfigError', message: 'beat entry "never": schedule must be an interval of at most 100 years, got 1e+308' })
})
