import t, { type Test } from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { createApp, crontab, TransportError, type App, type BeatEntryConfig, type Logger } from '../../src/index.js'
import { decodeMessage, type TaskHeaders } from '../../src/protocol/envelope.js'
import { codecByName } from '../../src/serialization/codec.js'
import { FileBeatStore, fileBeatStore, type BeatStore } from '../../src/beat/store.js'
import { SimulatedClock } from '../../src/util/clock.js'
import { Beat } from '../../src/beat/beat.js'
import { DEFAULTS } from '../../src/config/defaults.js'
import { tempDir } from '../helpers/files.js'

const START = Date.parse('2026-01-05T00:00:00Z')
const at = (ms: number) => new Date(START + ms).toISOString()

/** A logger that keeps every line, as `LEVEL message {fields}`. */
function capture(): Logger & { lines: string[] } {
  const lines: string[] = []
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push(`${level} ${message}${fields ? ' ' + JSON.stringify(fields) : ''}`)
  return { lines, debug: write('DEBUG'), info: write('INFO'), warn: write('WARN'), error: write('ERROR') }
}

/** The task ids a beat's log says it sent. */
const sentBy = (logger: { lines: string[] }) => logger.lines.filter((l) => l.includes('Sending due task')).map((l) => (JSON.parse(l.slice(l.indexOf('{'))) as { id: string }).id)

let apps = 0

/** An app on its own memory broker and simulated clock, a consumer on `queue`, and a clock driver that lets beats finish each check. */
async function setup(t: Test, schedule: Record<string, BeatEntryConfig>, queue = 'celery') {
  const clock = new SimulatedClock(START)
  const dir = tempDir(t)
  const app = createApp({ name: `beat-unit-${++apps}`, broker: `memory://beat-unit-${apps}`, clock, logger: capture(), config: { beatSchedule: schedule, beatScheduleFilename: `${dir}/schedule.json`, beatLeaseTime: 3 } })
  t.teardown(() => app.close())
  const transport = await app.transport()
  await transport.declareQueue({ name: queue })
  const received: { headers: TaskHeaders; args: unknown }[] = []
  transport.consume(queue, (delivery) => {
    const { headers, body } = decodeMessage(delivery.body)
    received.push({ headers, args: codecByName('msgpack').decode(body) })
    delivery.ack()
  }).pull(100_000)
  const beats: Beat[] = []
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
  }
  return {
    app,
    clock,
    file: `${dir}/schedule.json`,
    received,
    ids: () => received.map((r) => r.headers.id),
    beat(options: Parameters<App['beat']>[0] = {}) {
      const logger = capture()
      const beat = app.beat({ logger, ...options })
      beats.push(beat)
      t.teardown(() => beat.stop())
      return { beat, logger }
    },
    /** Moves the clock `ms` forward in steps, letting every beat finish the checks each step starts. */
    async advance(ms: number, step = 100) {
      for (let done = 0; done < ms; done += step) {
        clock.advance(Math.min(step, ms - done))
        await Promise.all(beats.map((b) => b.idle()))
      }
      await flush()
    },
    flush,
  }
}

t.test('beat - an interval entry is sent once a period with id <entry>:<fire time>, its args, kwargs and options; expires counts from the fire time', async (t) => {
  const s = await setup(t, { tick: { task: 't.tick', schedule: 1, args: [1, 2], kwargs: { k: 'v' }, options: { queue: 'beats', priority: 5, expires: 10 } } }, 'beats')
  const { beat } = s.beat()
  await beat.start()
  t.ok(beat.isLeader, 'a lone beat leads')
  await s.advance(3_050)
  t.same(s.ids(), [`tick:${at(1000)}`, `tick:${at(2000)}`, `tick:${at(3000)}`], 'first fire one period after start, then every period')
  const [first] = s.received
  t.match(first.headers, { task: 't.tick', priority: 5, expires: START + 1000 + 10_000 })
  t.same(first.args, [[1, 2], { k: 'v' }])
})

t.test('beat - a crontab entry fires at its wall-clock times on the simulated clock', async (t) => {
  const s = await setup(t, { half: { task: 't.half', schedule: crontab({ minute: '*/30' }) }, cron: { task: 't.cron', schedule: '15 * * * *' } })
  // A lease longer than the clock's steps: a step past the lease would lose it, as a frozen process would.
  const { beat } = s.beat({ leaseTime: 600 })
  await beat.start()
  await s.advance(2 * 3_600_000, 60_000)
  t.same(s.ids().filter((id) => id.startsWith('half:')), [`half:${at(1_800_000)}`, `half:${at(3_600_000)}`, `half:${at(5_400_000)}`, `half:${at(7_200_000)}`])
  t.same(s.ids().filter((id) => id.startsWith('cron:')), [`cron:${at(900_000)}`, `cron:${at(4_500_000)}`])
})

t.test('beat - two beats: one leads and sends, the other stands by; a stopped leader hands over at once', async (t) => {
  const s = await setup(t, { tick: { task: 't.tick', schedule: 1 } })
  const a = s.beat({ id: 'a' })
  const b = s.beat({ id: 'b' })
  await a.beat.start()
  await b.beat.start()
  await s.advance(5_050)
  t.ok(a.beat.isLeader, 'the first one leads')
  t.notOk(b.beat.isLeader, 'the second stands by')
  t.equal(sentBy(a.logger).length, 5)
  t.same(sentBy(b.logger), [], 'a standby sends nothing')
  await a.beat.stop()
  await s.advance(2_000)
  t.ok(b.beat.isLeader, 'the standby took over')
  t.ok(b.logger.lines.includes('INFO beat b is now the leader'))
  t.same(sentBy(b.logger)[0], `tick:${at(6000)}`, 'within a renewal period, with the next fire time')
  t.equal(new Set(s.ids()).size, s.ids().length, 'no fire time sent twice')
  t.same(s.ids(), [...sentBy(a.logger), ...sentBy(b.logger)], 'the queue holds what the beats sent')
})

/** A store that can be cut off, as a leader partitioned from NATS would be. */
function severable(store: BeatStore) {
  let cut = false
  const check = () => {
    if (cut) throw new Error('connection lost')
  }
  return {
    cut: () => void (cut = true),
    store: {
      get: async (key: string) => (check(), store.get(key)),
      create: async (key: string, value: string) => (check(), store.create(key, value)),
      update: async (key: string, value: string, revision: number) => (check(), store.update(key, value, revision)),
    } satisfies BeatStore,
  }
}

t.test('beat - a leader cut off from the store stops sending before a standby takes over: no fire time is sent twice', async (t) => {
  const s = await setup(t, { tick: { task: 't.tick', schedule: 1 } })
  const shared = fileBeatStore(s.file)
  const link = severable(shared)
  const a = s.beat({ id: 'a', store: link.store })
  const b = s.beat({ id: 'b', store: shared })
  await a.beat.start()
  await b.beat.start()
  await s.advance(3_050)
  link.cut()
  await s.advance(10_000)
  t.notOk(a.beat.isLeader, 'the cut-off leader gave up')
  t.ok(b.beat.isLeader, 'the standby leads')
  const [fromA, fromB] = [sentBy(a.logger), sentBy(b.logger)]
  t.ok(fromA.length >= 3 && fromB.length >= 5, `both sent (${fromA.length}, ${fromB.length})`)
  t.equal(new Set([...fromA, ...fromB]).size, fromA.length + fromB.length, 'no fire time sent by both, or twice')
  const lastOfA = Date.parse(fromA.at(-1)!.slice('tick:'.length))
  const firstOfB = Date.parse(fromB[0].slice('tick:'.length))
  t.ok(firstOfB > lastOfA, 'the standby starts after the leader stopped')
  t.ok(firstOfB - lastOfA <= 3_000 + 1_000 + 1_000, `taken over within the lease time and a renewal period (${firstOfB - lastOfA} ms)`)
  t.ok(a.logger.lines.some((l) => l.startsWith('WARN beat a lost the lead')), 'the old leader says it lost the lead')
})

t.test('beat - a restarted beat neither sends a fire time again nor forgets the schedule: missed runs collapse into one', async (t) => {
  const s = await setup(t, { tick: { task: 't.tick', schedule: 1 } })
  const first = s.beat({ id: 'first' })
  await first.beat.start()
  await s.advance(3_500)
  await first.beat.stop()
  t.ok(existsSync(s.file), 'last runs are in the schedule file')
  t.match(JSON.parse(readFileSync(s.file, 'utf8')), { entries: { 'entry.tick': { value: JSON.stringify({ at: START + 3000, count: 3 }) } } })
  await s.advance(5_200)
  // A new process reads the file afresh.
  const second = s.beat({ id: 'second', store: new FileBeatStore(s.file) })
  await second.beat.start()
  await s.advance(1_050)
  t.same(s.ids(), [1000, 2000, 3000, 8000, 9000].map((ms) => `tick:${at(ms)}`), 'the latest missed fire time once, then on the same grid')
  t.ok(second.logger.lines.includes(`WARN beat: entry tick missed runs from ${at(4000)}; sending once, for ${at(8000)}`), 'the catch-up is logged')
})

t.test('beat - an entry that misses runs on every check says so once a minute, not every tick', async (t) => {
  const s = await setup(t, { tick: { task: 't.tick', schedule: 1 } })
  const { beat, logger } = s.beat()
  await beat.start()
  // Each step of 2.5 s skips a fire time of the 1 s grid: a miss on every check.
  await s.advance(50_000, 2_500)
  const missed = () => logger.lines.filter((line) => line.includes('beat: entry tick missed runs'))
  t.equal(missed().length, 1, 'once in the first minute')
  await s.advance(15_000, 2_500)
  t.equal(missed().length, 2)
  t.match(missed()[1], /\(and \d+ more times since the last such line\)$/)
  t.ok(s.ids().length >= 25, 'a run is still sent on every check')
})

t.test('beat - a bad entry stops start() with a ConfigError naming it, before anything is sent', async (t) => {
  const s = await setup(t, { ok: { task: 't.ok', schedule: 1 }, bad: { task: 't.bad', schedule: '*/5 * *' } })
  const { beat } = s.beat()
  await t.rejects(beat.start(), { name: 'ConfigError', message: 'beat entry "bad": cron expression "*/5 * *" has 3 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)' })
  await s.advance(2_000)
  t.same(s.ids(), [])
})

t.test('beat - options a send would refuse stop start() with a ConfigError, not every fire time', async (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [{ queu: 'hipri' }, 'beat entry "x": options: unknown calling option queu (did you mean queue?)'],
    [{ routing_key: 'a.b' }, 'beat entry "x": options: unknown calling option routing_key (did you mean routingKey?)'],
    [{ priority: 300 }, 'beat entry "x": options.priority must be an integer from 0 to 9, got 300'],
    [{ queue: '' }, 'beat entry "x": options.queue must be a non-empty string, got ""'],
    [{ serializer: 'yaml' }, 'beat entry "x": unknown serializer "yaml" (celeriac\'s serializers: msgpack, json)'],
    [{ link: 't.other' }, 'beat entry "x": options.link must be a signature (task.s(...), chain, group, chord) or its data, got string "t.other": make it a signature, signature("t.other")'],
  ]
  for (const [options, message] of cases) {
    const s = await setup(t, { x: { task: 't.x', schedule: 1, options } })
    await t.rejects(s.beat().beat.start(), { name: 'ConfigError', message }, JSON.stringify(options))
  }
})

/** A beat on a simulated clock whose sends `send` answers; `advance` lets it finish each check. */
function failingBeat(t: Test, send: () => Promise<unknown>) {
  const clock = new SimulatedClock(START)
  const logger = capture()
  const sent: string[] = []
  const beat = new Beat({
    name: `beat-fail-${++apps}`,
    conf: { ...DEFAULTS, beatSchedule: { x: { task: 't.x', schedule: 60 } }, beatLeaseTime: 3 },
    clock,
    logger,
    tasks: new Map(),
    sendTask: (_name, _args, options) => send().then(() => void sent.push(String(options.taskId))),
    natsConnection: () => Promise.reject(new Error('no NATS here')),
  }, { scheduleFilename: `${tempDir(t)}/schedule.json`, logger })
  t.teardown(() => beat.stop())
  const advance = async (ms: number, step = 100) => {
    for (let done = 0; done < ms; done += step) {
      clock.advance(Math.min(step, ms - done))
      await beat.idle()
    }
  }
  const failures = () => logger.lines.filter((line) => line.startsWith('ERROR beat: could not send entry x'))
  return { beat, advance, failures, sent }
}

t.test('beat - a send that fails for good skips that run, logged once, instead of being tried every second', async (t) => {
  let refuse = true
  const b = failingBeat(t, () => (refuse ? Promise.reject(new Error('refused for good')) : Promise.resolve()))
  await b.beat.start()
  await b.advance(75_050)
  t.equal(b.failures().length, 1, b.failures().join('\n'))
  t.match(b.failures()[0], `the run for ${at(60_000)} is skipped`)
  refuse = false
  await b.advance(60_000)
  t.same(b.sent, [`x:${at(120_000)}`], 'the next fire time is sent')
})

t.test('beat - a send that fails for want of the broker is tried again, later each time, and sent once it answers', async (t) => {
  let down = true
  const b = failingBeat(t, () => (down ? Promise.reject(new TransportError('broker down')) : Promise.resolve()))
  await b.beat.start()
  await b.advance(74_050)
  t.equal(b.failures().length, 4, `at 60, 61, 63 and 67 s, not every second:\n${b.failures().join('\n')}`)
  down = false
  await b.advance(10_000)
  t.same(b.sent, [`x:${at(60_000)}`], 'sent once the broker answers, for its fire time')
})
