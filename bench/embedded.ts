// `npm run bench:embedded`: 100,000 no-op tasks through memory:// with 2 worker threads and
// results stored, side by side with piscina (2 threads) running the same no-op with every task
// in flight, at its default concurrentTasksPerWorker and at 16. Prints a table and JSON.
// Every contender starts its threads afresh each run, then runs BENCH_WARMUP (20,000) tasks
// untimed through them: what is timed is the steady state of threads whose code V8 has
// compiled, as in a worker that has been up for a while.
import { availableParallelism, cpus } from 'node:os'
import { writeFileSync } from 'node:fs'
import { Piscina } from 'piscina'
import { app, noop } from './fixtures/noop-app.js'
import { inRunOrder, summarize, table } from './stats.js'

const N = Number(process.env.BENCH_N ?? 100_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const PREFETCH = Number(process.env.BENCH_PREFETCH ?? 256)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20_000)

async function celeriac(tasksPerThread?: number): Promise<number> {
  const node = app.worker({ concurrency: 2, ...(tasksPerThread ? { tasksPerThread } : {}), hostname: 'bench@%h' })
  await node.start()
  const backend = await app.backend()
  const pass = async (count: number) => {
    const sent = []
    for (let i = 0; i < count; i++) sent.push(noop.delay(i))
    const results = await Promise.all(sent)
    const values = await Promise.all(results.map((r) => r.get()))
    values.forEach((v, i) => {
      if (v !== i) throw new Error(`wrong result for task ${i}: ${JSON.stringify(v)}`)
    })
    return results
  }
  // Results of a pass are no longer needed once checked; dropped untimed so passes start equal.
  const forget = (results: { id: string }[]) => Promise.all(results.map((r) => backend.forget(r.id)))
  await forget(await pass(WARMUP))
  const began = performance.now()
  const results = await pass(N)
  const seconds = (performance.now() - began) / 1000
  await forget(results)
  await node.stop()
  return N / seconds
}

async function piscina(concurrentTasksPerWorker?: number): Promise<number> {
  const pool = new Piscina({
    filename: new URL('./fixtures/piscina-noop.mjs', import.meta.url).href,
    minThreads: 2,
    maxThreads: 2,
    ...(concurrentTasksPerWorker ? { concurrentTasksPerWorker } : {}),
  })
  const warm = []
  for (let i = 0; i < WARMUP; i++) warm.push(pool.run(i))
  await Promise.all(warm)
  const began = performance.now()
  const runs = []
  for (let i = 0; i < N; i++) runs.push(pool.run(i))
  const values = await Promise.all(runs)
  const seconds = (performance.now() - began) / 1000
  if (values[N - 1] !== N - 1) throw new Error('wrong result')
  await pool.destroy()
  return N / seconds
}

const contenders: [string, () => Promise<number>][] = [
  [`celeriac memory:// (2 threads, ${PREFETCH} tasks/thread, results stored)`, () => celeriac(PREFETCH)],
  ['celeriac memory:// (2 threads, default tasks/thread, results stored)', () => celeriac()],
  ['piscina (2 threads, defaults)', () => piscina()],
  ['piscina (2 threads, concurrentTasksPerWorker 16)', () => piscina(16)],
]
const only = process.env.BENCH_ONLY
if (only) contenders.splice(0, contenders.length, ...contenders.filter(([name]) => name.startsWith(only)))
const samples = new Map<string, number[]>(contenders.map(([name]) => [name, []]))
for (let run = 0; run < RUNS; run++) {
  for (const [name, fn] of inRunOrder(contenders, run + 1, RUNS)) samples.get(name)!.push(await fn())
}
await app.close()

const summary = contenders.map(([name]) => ({ name, ...summarize(samples.get(name)!) }))
// BENCH_ONLY may leave some out: a ratio to a contender that did not run is left out too.
const median = (prefix: string) => summary.find((s) => s.name.startsWith(prefix))?.median ?? NaN
const ours = median(`celeriac memory:// (2 threads, ${PREFETCH} tasks/thread`)
const atDefaults = median('celeriac memory:// (2 threads, default')
const piscinas = summary.filter((s) => s.name.startsWith('piscina')).map((s) => s.median)
const best = piscinas.length > 0 ? Math.max(...piscinas) : NaN
const report = {
  benchmark: 'embedded',
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), model: cpus()[0]?.model, node: process.version },
  tasks: N,
  runs: RUNS,
  unit: 'tasks/s',
  results: summary,
  ratioToBestPiscina: ours / best,
  ratioAtDefaultsToBestPiscina: atDefaults / best,
}
console.log(table(summary.map((s) => ({ contender: s.name, 'median tasks/s': s.median, min: s.min, max: s.max }))))
console.log(`\nceleriac / best piscina = ${(ours / best).toFixed(2)} (${(atDefaults / best).toFixed(2)} at the default tasks per thread)\n`)
console.log(JSON.stringify(report, null, 2))
if (process.env.BENCH_SAVE) writeFileSync(new URL(`./results/embedded-${report.date.slice(0, 10)}.json`, import.meta.url), JSON.stringify(report, null, 2) + '\n')
