// `npm run bench:embedded-phases`: where the main thread's time goes on memory://, one phase at
// a time: publishing 100,000 no-op tasks (no worker), a worker draining them (2 threads), and
// collecting their results with get(). Prints a table and JSON.
import { app, noop } from './fixtures/noop-app.js'
import { table } from './stats.js'

const N = Number(process.env.BENCH_N ?? 100_000)
const node = app.worker({ concurrency: 2, tasksPerThread: Number(process.env.BENCH_TASKS_PER_THREAD ?? process.env.BENCH_PREFETCH ?? 64) })
const rate = (ms: number) => N / (ms / 1000)

let began = performance.now()
const results = await Promise.all(Array.from({ length: N }, (_, i) => noop.delay(i)))
const publish = rate(performance.now() - began)

await node.start()
began = performance.now()
await new Promise<void>((resolve) => {
  const check = () => (node.processed >= N ? resolve() : setTimeout(check, 2))
  check()
})
const drain = rate(performance.now() - began)

began = performance.now()
const values = await Promise.all(results.map((r) => r.get()))
const get = rate(performance.now() - began)
if (values[N - 1] !== N - 1) throw new Error('wrong result')
await node.stop()
await app.close()

const rows = [
  { phase: 'publish (client, no worker)', 'tasks/s': publish, 'us/task': 1e6 / publish },
  { phase: 'drain (worker node, 2 threads)', 'tasks/s': drain, 'us/task': 1e6 / drain },
  { phase: 'get() of finished results', 'tasks/s': get, 'us/task': 1e6 / get },
]
console.log(table(rows))
console.log(JSON.stringify({ benchmark: 'embedded-phases', date: new Date().toISOString(), tasks: N, phases: rows }, null, 2))
