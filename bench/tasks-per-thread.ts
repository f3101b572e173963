// `npm run bench:tasks-per-thread`: what the default of `workerTasksPerThread` rests on. A
// `celeriac worker -c 2 --tasks-per-thread N` process on NATS with KV results, for several N,
// interleaved in each run: no-op tasks end to end, I/O-bound tasks (each awaits 20 ms), CPU-bound
// tasks (5 ms of hashing) and the round trip. Every result is checked. Prints a table (medians
// of the runs) and JSON. `--runs N`, `--quick`, `--n 1,4,8`; `--write` puts the table in BENCHMARKS.md.
import { parseArgs } from 'node:util'
import { onNats } from './peers/celeriac.js'
import type { Plan } from './peers/plan.js'
import { cleanUpOnExit, stopAll } from './peers/processes.js'
import { loadavg } from 'node:os'
import { markdownTable, writeDocSection } from './doc-section.js'
import { inRunOrder, summarize, table } from './stats.js'

const { values: flags } = parseArgs({ options: { quick: { type: 'boolean' }, runs: { type: 'string' }, n: { type: 'string' }, write: { type: 'boolean' } }, strict: true })
const load = loadavg()[0].toFixed(1)
const quick = Boolean(flags.quick)
const runs = Number(flags.runs ?? (quick ? 1 : 3))
const settings = (flags.n ?? '4,8,16,25,32,64').split(',').map(Number)
const plan: Plan = {
  workloads: ['throughput', 'roundTrip', 'io', 'cpu'],
  tasks: quick ? 2_000 : 10_000,
  roundTrips: quick ? 100 : 500,
  cpuTasks: quick ? 50 : 300,
  cpuMs: 5,
  ioTasks: quick ? 500 : 3_000,
  ioMs: 20,
  chordSize: 0,
  window: 1_000,
  timeoutS: 120,
}
const contenders = settings.map((n) => ({ n, contender: onNats(`-c 2 x ${n}`, 'nats://', ['-c', '2', '--tasks-per-thread', String(n)]) }))
const samples = new Map<number, Record<string, number[]>>(settings.map((n) => [n, {}]))
cleanUpOnExit()
try {
  for (let run = 1; run <= runs; run++) {
    for (const { n, contender } of inRunOrder(contenders, run, runs)) {
      const measures = await contender.run(plan)
      console.log(`run ${run}/${runs} tasks/thread ${n}: ${JSON.stringify(measures, (_, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`)
      for (const [key, value] of Object.entries(measures)) if (typeof value === 'number') (samples.get(n)![key] ??= []).push(value)
    }
  }
} finally {
  await stopAll()
}
const median = (values: number[] | undefined) => (values ? summarize(values).median : NaN)
const rows = settings.map((n) => {
  const s = samples.get(n)!
  return { 'tasks/thread': n, 'in flight': 2 * n, 'no-op tasks/s': median(s.throughput), 'I/O 20 ms tasks/s': median(s.io), 'CPU 5 ms tasks/s': median(s.cpu), 'p50 ms': median(s.p50), 'p99 ms': median(s.p99) }
})
console.log(`\n${table(rows)}\n`)
if (flags.write) {
  writeDocSection('tasks-per-thread', [`Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:tasks-per-thread -- --write\`: load ${load} at start; ${plan.tasks} no-op, ${plan.ioTasks} I/O-bound (${plan.ioMs} ms) and ${plan.cpuTasks} CPU-bound (${plan.cpuMs} ms) tasks per run, ${plan.roundTrips} round trips; medians of ${runs} interleaved runs.`, '', markdownTable(rows)].join('\n'))
}
console.log(JSON.stringify({ benchmark: 'tasks-per-thread', date: new Date().toISOString(), runs, plan, rows }, null, 2))
