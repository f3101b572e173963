// `npm run bench:round-trip`: one task at a time, each sent and its result awaited before the
// next, through a `celeriac worker` process at its defaults on a fresh nats-server: the latency
// a caller sees. `--tasks N` (default 3,000, after 300 warm-up), `--runs N` (default 3),
// `--backend rpc://` (default nats://, KV results). Every result is checked. Prints a table and
// JSON. Run it from two working trees one after the other to compare a change with its parent.
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { startNatsServer } from '../src/testing/nats-server.js'
import { startWorkerProcess } from '../test/helpers/worker-process.js'
import { summarize, table } from './stats.js'

const { values: flags } = parseArgs({ options: { tasks: { type: 'string' }, runs: { type: 'string' }, backend: { type: 'string' } }, strict: true })
const tasks = Number(flags.tasks ?? 3_000)
const runs = Number(flags.runs ?? 3)
const backend = flags.backend ?? 'nats://'
if (backend !== 'nats://' && backend !== 'rpc://') throw new Error(`--backend must be nats:// or rpc://, got ${JSON.stringify(backend)}`)
const appModule = fileURLToPath(new URL('./fixtures/compare-app.ts', import.meta.url))
const { createApp } = await import('celeriac')

/** Round-trip times of one run, ms, sorted. */
async function once(run: number): Promise<number[]> {
  const server = await startNatsServer()
  const worker = await startWorkerProcess({ app: appModule, built: true, hostname: `rt-${run}@%h`, env: { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: backend } })
  const app = createApp({ name: 'bench-compare', broker: server.url, backend })
  const noop = app.task('bench.noop', (i: number) => i)
  try {
    for (let i = 0; i < 300; i++) await (await noop.delay(i)).get({ timeout: 30 })
    const times: number[] = []
    for (let i = 0; i < tasks; i++) {
      const began = performance.now()
      const value = await (await noop.delay(i)).get({ timeout: 30 })
      times.push(performance.now() - began)
      if (value !== i) throw new Error(`wrong result for task ${i}: ${JSON.stringify(value)}`)
    }
    return times.sort((a, b) => a - b)
  } finally {
    await app.close()
    await worker.stop()
    await server.cleanup()
  }
}

const at = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]
const samples = { p50: [] as number[], p90: [] as number[], p99: [] as number[] }
for (let run = 1; run <= runs; run++) {
  const times = await once(run)
  samples.p50.push(at(times, 0.5))
  samples.p90.push(at(times, 0.9))
  samples.p99.push(at(times, 0.99))
}
const rows = Object.entries(samples).map(([measure, values]) => ({ measure: `${measure} (ms)`, ...summarize(values) }))
console.log(table(rows.map(({ measure, median, min, max }) => ({ measure, median, min, max }))))
console.log(JSON.stringify({ benchmark: 'round-trip', date: new Date().toISOString(), backend, tasks, runs, rows }, null, 2))
