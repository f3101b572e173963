// Found by an outside hostile-input audit: the Beat page read last-run records with its own
// JSON.parse, so a stored `not json` showed as an error on the entry (its schedule and next
// run gone) and {"at":"x"} silently showed as never run, while the beat itself warned that
// both cannot be read. The page now reads them as the beat does: no last run, and the problem.
import t from 'tap'
import { readBeat } from '../../src/dashboard/beat-info.js'
import { entryKey, type BeatStore } from '../../src/beat/store.js'

const NOW = Date.parse('2026-01-05T00:00:00Z')

/** A beat store holding `records` (entry name -> stored last run), read only. */
function storeOf(records: Record<string, string>): BeatStore {
  const values = new Map(Object.entries(records).map(([name, value]) => [entryKey(name), value]))
  return {
    get: async (key) => (values.has(key) ? { value: values.get(key)!, revision: 1 } : undefined),
    create: async () => undefined,
    update: async () => undefined,
  }
}

const schedule = { tick: { task: 'd.add', schedule: 30, args: [1, 2] } }
const cannotRead = (problem: string) => `its last run in the beat store cannot be read: ${problem}; the beat takes it as never run and overwrites it at the next run`

t.test('beat info - an unreadable last run shows as none, with the problem, the entry still scheduled', async (t) => {
  for (const [stored, problem] of [
    ['not json', 'not JSON: "not json"'],
    ['{"at":"x"}', 'at must be a time in epoch milliseconds, got "x"'],
    ['{"at":1767571200000}', 'count must be a non-negative integer, got undefined'],
    ['null', 'expected an object { at, count }, got null'],
  ] as const) {
    const { entries } = await readBeat(schedule, 'UTC', NOW, storeOf({ tick: stored }))
    t.same(entries, [{ name: 'tick', task: 'd.add', schedule: '<every 30 s>', args: [1, 2], kwargs: {}, lastRun: null, totalRuns: null, nextRun: NOW + 30_000, problem: cannotRead(problem) }], stored)
  }
})

t.test('beat info - a readable last run shows with its count and the next run after it', async (t) => {
  const at = NOW - 10_000
  const { entries } = await readBeat(schedule, 'UTC', NOW, storeOf({ tick: JSON.stringify({ at, count: 7 }) }))
  t.same(entries, [{ name: 'tick', task: 'd.add', schedule: '<every 30 s>', args: [1, 2], kwargs: {}, lastRun: at, totalRuns: 7, nextRun: at + 30_000 }])
  const none = await readBeat(schedule, 'UTC', NOW, storeOf({}))
  t.same(none.entries, [{ name: 'tick', task: 'd.add', schedule: '<every 30 s>', args: [1, 2], kwargs: {}, lastRun: null, totalRuns: null, nextRun: NOW + 30_000 }], 'none stored yet')
})
