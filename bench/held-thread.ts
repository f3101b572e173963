// `npm run bench:held-thread`: how long short tasks wait when CPU-bound tasks share their node.
// One worker node at its defaults (2 threads x 32 tasks, memory://, in this process) gets a
// steady stream of I/O-bound tasks (each awaits a 20 ms timer; one every 4 ms) and, every
// 500 ms, one CPU-bound task that holds its thread for 250 ms (SHA-256). Prints the I/O-bound
// tasks' latency (sent to result, ms): p50, p90, p95, p99, max and the share over 100 ms, medians of `--runs N` (3) runs of
// `--seconds N` (5) each, as a table and JSON. A task sent to a thread that a CPU-bound task
// holds waits until it lets go: run it from two working trees to compare a change.
import { parseArgs } from 'node:util'
import { app, burn, sleep } from './fixtures/compare-app.js'
import { percentile, summarize, table } from './stats.js'

const { values: flags } = parseArgs({ options: { runs: { type: 'string' }, seconds: { type: 'string' } }, strict: true })
const runs = Number(flags.runs ?? 3)
const seconds = Number(flags.seconds ?? 5)
const IO_EVERY_MS = 4
const IO_MS = 20
const CPU_EVERY_MS = 500
const CPU_MS = 250

const node = app.worker({ concurrency: 2, hostname: 'held-thread@%h' })
await node.start()

/** One run: the I/O-bound tasks' latencies, ms, ascending. */
async function once(): Promise<number[]> {
  const latencies: Promise<number>[] = []
  const cpu: Promise<unknown>[] = []
  const began = performance.now()
  let i = 0
  while (performance.now() - began < seconds * 1000) {
    const sent = performance.now()
    latencies.push(sleep.delay(i, IO_MS).then((r) => r.get({ timeout: 30 })).then((value) => {
      if (typeof value !== 'number') throw new Error(`wrong result: ${JSON.stringify(value)}`)
      return performance.now() - sent
    }))
    if (i % (CPU_EVERY_MS / IO_EVERY_MS) === 0) cpu.push(burn.delay(CPU_MS).then((r) => r.get({ timeout: 30 })))
    i++
    await new Promise((resolve) => setTimeout(resolve, IO_EVERY_MS))
  }
  await Promise.all(cpu)
  return (await Promise.all(latencies)).sort((a, b) => a - b)
}

await once() // warm-up: threads compile the tasks' paths
const samples = { p50: [] as number[], p90: [] as number[], p95: [] as number[], p99: [] as number[], max: [] as number[], 'over 100 ms (%)': [] as number[] }
for (let run = 1; run <= runs; run++) {
  const times = await once()
  samples.p50.push(percentile(times, 50))
  samples.p90.push(percentile(times, 90))
  samples.p95.push(percentile(times, 95))
  samples.p99.push(percentile(times, 99))
  samples.max.push(times.at(-1)!)
  samples['over 100 ms (%)'].push((100 * times.filter((ms) => ms > 100).length) / times.length)
  console.log(`run ${run}/${runs}: ${times.length} I/O-bound tasks, p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`)
}
await node.stop()
await app.close()
const rows = Object.entries(samples).map(([measure, values]) => ({ measure: measure.includes('%') ? measure : `${measure} (ms)`, ...summarize(values) }))
console.log(table(rows.map(({ measure, median, min, max }) => ({ measure, median, min, max }))))
console.log(JSON.stringify({ benchmark: 'held-thread', date: new Date().toISOString(), ioEveryMs: IO_EVERY_MS, ioMs: IO_MS, cpuEveryMs: CPU_EVERY_MS, cpuMs: CPU_MS, seconds, runs, rows }, null, 2))
