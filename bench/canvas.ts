// `npm run bench:canvas`: canvas on a real nats-server (started here), KV results, 2 threads:
//   - a chord of 10,000 no-op members: time from send to the body's result, and members/s
//   - a chain of 1,000 steps: time from send to the last step's result, and steps/s
// The same on memory:// for comparison. Prints a table and JSON.
import { availableParallelism, cpus } from 'node:os'
import { startNatsServer } from '../src/testing/nats-server.js'
import { summarize, table } from './stats.js'

const MEMBERS = Number(process.env.BENCH_CHORD ?? 10_000)
const STEPS = Number(process.env.BENCH_CHAIN ?? 1_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)

const server = await startNatsServer()
process.env.CELERIAC_BROKER_URL = server.url
const { app, noop, count, inc } = await import('./fixtures/nats-noop-app.js')
const memory = await import('./fixtures/noop-app.js')
const { chain, chord } = await import('celeriac')

type Tasks = { noop: typeof noop; count: typeof count; inc: typeof inc }

async function chordSeconds(tasks: Tasks): Promise<number> {
  const began = performance.now()
  const result = await chord(Array.from({ length: MEMBERS }, (_, i) => tasks.noop.s(i)), tasks.count.s()).applyAsync()
  const got = await result.get({ timeout: 300 })
  if (got !== MEMBERS) throw new Error(`chord body saw ${got} results, expected ${MEMBERS}`)
  return (performance.now() - began) / 1000
}

async function chainSeconds(tasks: Tasks): Promise<number> {
  const began = performance.now()
  const steps = Array.from({ length: STEPS }, () => tasks.inc.s())
  const result = await chain(tasks.noop.s(0), ...steps).applyAsync()
  const got = await result.get({ timeout: 300 })
  if (got !== STEPS) throw new Error(`chain ended with ${got}, expected ${STEPS}`)
  return (performance.now() - began) / 1000
}

const samples: Record<string, number[]> = {}
const add = (name: string, value: number) => (samples[name] ??= []).push(value)
const targets = [
  { name: 'nats', app, tasks: { noop, count, inc } },
  { name: 'memory', app: memory.app, tasks: memory as Tasks },
]
for (const target of targets) {
  const node = target.app.worker({ concurrency: 2, tasksPerThread: 256 })
  await node.start()
  for (let run = 0; run < RUNS; run++) {
    const chordS = await chordSeconds(target.tasks)
    add(`${target.name}: chord of ${MEMBERS} members, send to body result (s)`, chordS)
    add(`${target.name}: chord members/s`, MEMBERS / chordS)
    const chainS = await chainSeconds(target.tasks)
    add(`${target.name}: chain of ${STEPS} steps, send to last result (s)`, chainS)
    add(`${target.name}: chain steps/s`, STEPS / chainS)
  }
  await node.stop()
}
await app.close()
await memory.app.close()
await server.cleanup()

const summary = Object.entries(samples).map(([name, values]) => ({ name, ...summarize(values) }))
console.log(table(summary.map((s) => ({ measure: s.name, median: Number(s.median.toFixed(3)), min: Number(s.min.toFixed(3)), max: Number(s.max.toFixed(3)) }))))
console.log(JSON.stringify({ benchmark: 'canvas', date: new Date().toISOString(), machine: { cpus: availableParallelism(), model: cpus()[0]?.model, node: process.version }, server: '2.9.10', chordMembers: MEMBERS, chainSteps: STEPS, runs: RUNS, results: summary }, null, 2))
