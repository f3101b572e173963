// `npm run bench:scale`: scale-out against one nats-server. 1, 2 and 4 `celeriac worker`
// processes (each at its defaults) share one server with KV results; one client process (this
// one) sends no-op tasks and awaits every result, checking each. Beside each figure: the CPU
// each part used during the run (nats-server, the workers together, the client), in cores, to
// show which one flattens the curve. Each run first sends `--warmup N` (20,000) tasks untimed
// through its new worker processes. Interleaved runs, medians. `--runs N`, `--tasks N`,
// `--procs 1,2,4`; `--backend rpc://` (default nats://, KV results); `--write` puts the table in
// BENCHMARKS.md (KV results only).
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { startNatsServer } from '../src/testing/nats-server.js'
import { startWorkerProcess, type WorkerProcess } from '../test/helpers/worker-process.js'
import { loadavg } from 'node:os'
import { markdownTable, writeDocSection } from './doc-section.js'
import { inRunOrder, noopPass, summarize, table } from './stats.js'
import { cpuSeconds, serverPid } from './proc.js'

const { values: flags } = parseArgs({ options: { runs: { type: 'string' }, tasks: { type: 'string' }, warmup: { type: 'string' }, procs: { type: 'string' }, backend: { type: 'string' }, write: { type: 'boolean' } }, strict: true })
const load = loadavg()[0].toFixed(1)
const runs = Number(flags.runs ?? 3)
const tasks = Number(flags.tasks ?? 20_000)
const warmup = Number(flags.warmup ?? 20_000)
const backend = flags.backend ?? 'nats://'
if (backend !== 'nats://' && backend !== 'rpc://') throw new Error(`--backend must be nats:// or rpc://, got ${JSON.stringify(backend)}`)
if (flags.write && backend !== 'nats://') throw new Error('--write records the table of KV results: leave --backend out')
const counts = (flags.procs ?? '1,2,4').split(',').map(Number)
const appModule = fileURLToPath(new URL('./fixtures/compare-app.ts', import.meta.url))

interface Sample { rate: number; server: number; workers: number; client: number }

async function once(processes: number, run: number): Promise<Sample> {
  const server = await startNatsServer()
  const env = { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: backend }
  const workers: WorkerProcess[] = []
  try {
    for (let i = 0; i < processes; i++) workers.push(await startWorkerProcess({ app: appModule, built: true, hostname: `scale-${run}-${i}@%h`, env }))
    const { createApp } = await import('celeriac')
    const app = createApp({ name: 'bench-compare', broker: server.url, backend })
    const noop = app.task('bench.noop', (i: number) => i)
    await (await noop.delay(-1)).get({ timeout: 30 }) // connected
    // Untimed: the worker processes are new, and V8 compiles their hot paths in the first seconds.
    await noopPass(noop, warmup)
    const pid = serverPid()
    const cpu = () => ({ server: cpuSeconds(pid), workers: workers.reduce((sum, w) => sum + cpuSeconds(w.child.pid!), 0), client: process.cpuUsage() })
    const before = cpu()
    const began = performance.now()
    await noopPass(noop, tasks)
    const seconds = (performance.now() - began) / 1000
    const after = cpu()
    const clientCpu = process.cpuUsage(before.client)
    await app.close()
    return {
      rate: tasks / seconds,
      server: (after.server - before.server) / seconds,
      workers: (after.workers - before.workers) / seconds,
      client: (clientCpu.user + clientCpu.system) / 1e6 / seconds,
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
    await server.cleanup()
  }
}

const samples = new Map<number, Sample[]>(counts.map((n) => [n, []]))
for (let run = 1; run <= runs; run++) {
  for (const n of inRunOrder(counts, run, runs)) {
    const sample = await once(n, run)
    samples.get(n)!.push(sample)
    console.log(`run ${run}/${runs}, ${n} worker process(es): ${Math.round(sample.rate)} tasks/s; cores used: server ${sample.server.toFixed(2)}, workers ${sample.workers.toFixed(2)}, client ${sample.client.toFixed(2)}`)
  }
}
const med = (xs: number[]) => summarize(xs).median
const base = med(samples.get(counts[0])!.map((s) => s.rate))
const rows = counts.map((n) => {
  const s = samples.get(n)!
  const rate = med(s.map((x) => x.rate))
  // CPU per task (cores x seconds / tasks) hardly depends on other load on the machine, unlike tasks/s.
  const perTask = (pick: (x: Sample) => number) => Math.round(med(s.map((x) => (pick(x) / x.rate) * 1e6)))
  return {
    'worker processes': n,
    'tasks/s (median)': rate,
    [`x ${counts[0]} process`]: `${(rate / base).toFixed(2)}x`,
    'server cores': med(s.map((x) => x.server)),
    'workers cores': med(s.map((x) => x.workers)),
    'client cores': med(s.map((x) => x.client)),
    'server CPU µs/task': perTask((x) => x.server),
    'workers CPU µs/task': perTask((x) => x.workers),
    'client CPU µs/task': perTask((x) => x.client),
  }
})
console.log(`\n${availableParallelism()} cores on this machine; ${tasks} no-op tasks, results on ${backend}, every result checked; medians of ${runs}\n${table(rows)}`)
if (flags.write) {
  writeDocSection('scale', [`Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:scale -- --write\`: ${availableParallelism()} cores, load ${load} at start, ${tasks} no-op tasks with KV results per run after ${warmup} untimed ones, every result checked, medians of ${runs} interleaved runs.`, '', markdownTable(rows)].join('\n'))
}
console.log(JSON.stringify({ benchmark: 'scale', date: new Date().toISOString(), cores: availableParallelism(), tasks, runs, rows }, null, 2))
