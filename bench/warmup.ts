// `npm run bench:warmup`: how much of a fresh worker's cost is V8 compiling its hot paths. A
// `celeriac worker` process at its defaults on a fresh nats-server gets `--warmup` no-op tasks
// untimed (0, 5,000 and 20,000 by default; one more task connects first), then 20,000 timed
// ones (`--tasks`), all with KV results and every result checked. Beside tasks/s: the worker
// process's CPU per timed task, on its main thread and on its other threads (the task threads
// and V8's own: compiler and GC), read from /proc/<pid>/task/*/stat (bench/proc.ts).
// Interleaved runs (`--runs`, default 3), medians. The client (this process) runs one untimed
// round first, so that only the worker starts cold.
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { startNatsServer } from '../src/testing/nats-server.js'
import { startWorkerProcess } from '../test/helpers/worker-process.js'
import { inRunOrder, noopPass, summarize, table } from './stats.js'
import { threadCpuSeconds } from './proc.js'

const { values: flags } = parseArgs({ options: { runs: { type: 'string' }, tasks: { type: 'string' }, warmup: { type: 'string' } }, strict: true })
const runs = Number(flags.runs ?? 3)
const tasks = Number(flags.tasks ?? 20_000)
const warmups = (flags.warmup ?? '0,5000,20000').split(',').map(Number)
const appModule = fileURLToPath(new URL('./fixtures/compare-app.ts', import.meta.url))
const { createApp } = await import('celeriac')
interface Sample { rate: number; main: number; others: number }

async function once(warmup: number, run: number): Promise<Sample> {
  const server = await startNatsServer()
  const env = { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: 'nats://' }
  const worker = await startWorkerProcess({ app: appModule, built: true, hostname: `warmup-${run}-${warmup}@%h`, env })
  const app = createApp({ name: 'bench-compare', broker: server.url, backend: 'nats://' })
  const noop = app.task('bench.noop', (i: number) => i)
  try {
    await (await noop.delay(-1)).get({ timeout: 30 }) // connected
    await noopPass(noop, warmup)
    const pid = worker.child.pid!
    const before = threadCpuSeconds(pid)
    const began = performance.now()
    await noopPass(noop, tasks)
    const seconds = (performance.now() - began) / 1000
    const after = threadCpuSeconds(pid)
    let main = 0
    let others = 0
    for (const [tid, cpu] of after) {
      const used = (cpu - (before.get(tid) ?? 0)) * 1e6
      if (tid === pid) main += used
      else others += used
    }
    return { rate: tasks / seconds, main: main / tasks, others: others / tasks }
  } finally {
    await app.close()
    await worker.stop()
    await server.cleanup()
  }
}

await once(tasks, 0) // the client's own warm-up: from here on, only the worker starts cold
const samples = new Map<number, Sample[]>(warmups.map((w) => [w, []]))
for (let run = 1; run <= runs; run++) {
  for (const warmup of inRunOrder(warmups, run, runs)) {
    const sample = await once(warmup, run)
    samples.get(warmup)!.push(sample)
    console.log(`run ${run}/${runs}, ${warmup} untimed tasks first: ${Math.round(sample.rate)} tasks/s; worker CPU per task: main thread ${sample.main.toFixed(1)} us, other threads ${sample.others.toFixed(1)} us`)
  }
}
const rows = warmups.map((warmup) => {
  const s = samples.get(warmup)!
  const median = (pick: (x: Sample) => number) => summarize(s.map(pick)).median
  return {
    'untimed tasks first': warmup,
    'tasks/s (median)': Math.round(median((x) => x.rate)),
    'worker main thread µs/task': Number(median((x) => x.main).toFixed(1)),
    'worker other threads µs/task': Number(median((x) => x.others).toFixed(1)),
  }
})
console.log(`\n${tasks} timed no-op tasks per run, NATS + KV results, worker at its defaults; medians of ${runs} interleaved runs\n${table(rows)}`)
console.log(JSON.stringify({ benchmark: 'warmup', date: new Date().toISOString(), tasks, runs, rows }, null, 2))
