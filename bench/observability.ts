// `npm run bench:observability`: what metrics and tracing cost. End-to-end throughput of no-op
// tasks (results stored, 2 worker threads, memory:// unless BENCH_BROKER names a NATS server)
// with observability off, with metrics on (scraped every second), with tracing and no SDK (a
// no-op tracer), and with an SDK exporting every span to memory. Each configuration runs in a
// fresh process (OpenTelemetry's registrations are global), round robin, RUNS times; the table
// gives medians and the cost against "off", in throughput and in CPU time per task (user +
// system of the whole process, threads included: on a shared machine, CPU time per task moves
// far less with other load than throughput does). Then it times the observer's own work per
// task in a loop (what the node calls for one task: received, started, within, ended; and the
// sender's traced publish), which a busy machine disturbs least, and sets it against the CPU
// time per task with observability off. Prints tables and JSON.
import { spawn } from 'node:child_process'
import { availableParallelism, cpus } from 'node:os'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { summarize, table } from './stats.js'

const N = Number(process.env.BENCH_N ?? 20_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const PREFETCH = Number(process.env.BENCH_PREFETCH ?? 256)

interface Config {
  name: string
  env: Record<string, string>
  metrics: boolean
  tracing: boolean
}
const CONFIGS: Config[] = [
  { name: 'off (no OpenTelemetry, no metrics)', env: { OTEL_SDK_DISABLED: 'true' }, metrics: false, tracing: false },
  { name: 'metrics on, scraped every 1 s', env: { OTEL_SDK_DISABLED: 'true' }, metrics: true, tracing: false },
  { name: 'tracing, API installed, no SDK (no-op tracer)', env: {}, metrics: false, tracing: true },
  { name: 'tracing, SDK exporting to memory', env: { BENCH_OTEL: 'memory' }, metrics: false, tracing: true },
]

/** One measured run in this process (a child): prints its tasks/s. */
async function child(config: Config): Promise<void> {
  const { app, noop } = await import('./fixtures/observability-app.js')
  const node = app.worker({ concurrency: 2, prefetch: PREFETCH, hostname: 'benchobs@%h', tracing: config.tracing, ...(config.metrics ? { metrics: { port: 0, host: '127.0.0.1' } } : {}) })
  await node.start()
  const scrape = () => fetch(node.endpoints.metrics!).then((r) => r.text())
  // The scraper runs in this process (Prometheus would not): one scrape now loads fetch's
  // client before anything is measured.
  if (config.metrics) await scrape()
  const scraper = config.metrics ? setInterval(() => void scrape(), 1000) : undefined
  const run = async (n: number) => {
    const cpu = process.cpuUsage()
    const began = performance.now()
    const results = await Promise.all(Array.from({ length: n }, (_, i) => noop.delay(i)))
    const values = await Promise.all(results.map((r) => r.get()))
    if (values[n - 1] !== n - 1) throw new Error('wrong result')
    const seconds = (performance.now() - began) / 1000
    const used = process.cpuUsage(cpu)
    const cpuUsPerTask = (used.user + used.system) / n
    const backend = await app.backend()
    await Promise.all(results.map((r) => backend.forget(r.id)))
    return { rate: n / seconds, cpuUsPerTask }
  }
  await run(Math.ceil(N / 4)) // warm-up: JIT, threads, first series
  const { rate, cpuUsPerTask } = await run(N)
  clearInterval(scraper)
  await node.stop()
  await app.close()
  console.log(`RATE ${rate} CPU ${cpuUsPerTask}`)
}

function measure(index: number): Promise<{ rate: number; cpu: number }> {
  const config = CONFIGS[index]
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, ...config.env, BENCH_CHILD: String(index) },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk))
    proc.on('exit', (code) => {
      const match = /RATE (\S+) CPU (\S+)/.exec(out)
      if (code === 0 && match) resolve({ rate: Number(match[1]), cpu: Number(match[2]) })
      else reject(new Error(`${config.name}: exited ${code}\n${out}`))
    })
  })
}

/** CPU ns per task of the observer calls alone: metrics, and tracing with no SDK (a no-op tracer). */
async function hotPath(): Promise<{ metricsNs: number; noopTracingNs: number }> {
  const { WorkerMetrics } = await import('../src/observability/metrics.js')
  const { WorkerTracing, tracedSend } = await import('../src/observability/tracing.js')
  const api = await import('@opentelemetry/api')
  const node = { hostname: 'bench', state: () => 'running', active: () => 0, prefetched: () => 0, rateLimited: () => 0, taskNames: () => [], threads: () => 2, threadsBusy: () => 0, threadsHeld: () => 0, threadsUp: () => 2, queues: () => ['celery'], consuming: () => true, transport: () => undefined }
  const logger = { debug() {}, info() {}, warn() {}, error() {} }
  const tasks = Array.from({ length: 1000 }, (_, i) => ({
    headers: { id: `task-${i}`, task: `bench.task${i % 8}`, retries: 0, rootId: `task-${i}`, contentType: 'application/x-msgpack' as const },
    delivery: { queue: 'celery', publishedAt: Date.now() - 3, deliveryCount: 1 },
  }))
  const time = (perTask: (task: (typeof tasks)[number]) => void) => {
    const rounds = 200
    for (const task of tasks) perTask(task) // warm-up
    const cpu = process.cpuUsage()
    for (let r = 0; r < rounds; r++) for (const task of tasks) perTask(task)
    const used = process.cpuUsage(cpu)
    return ((used.user + used.system) * 1000) / (rounds * tasks.length)
  }
  const metrics = new WorkerMetrics(node, { hostnameLabel: true }, logger)
  const now = Date.now()
  const metricsNs = time((task) => {
    metrics.received(task, now)
    metrics.started(task)
    metrics.ended(task, 'succeeded', 0.05)
  })
  const tracing = new WorkerTracing(api)
  const sent = () => Promise.resolve()
  const noopTracingNs = time((task) => {
    void tracedSend(api, task.headers as never, 'celery', sent)
    tracing.started(task as never)
    tracing.within(task as never, () => undefined)
    tracing.ended(task as never, 'succeeded', undefined)
  })
  return { metricsNs, noopTracingNs }
}

if (process.env.BENCH_CHILD !== undefined) {
  await child(CONFIGS[Number(process.env.BENCH_CHILD)])
} else {
  const rates = CONFIGS.map(() => [] as number[])
  const cpus_ = CONFIGS.map(() => [] as number[])
  for (let run = 0; run < RUNS; run++) {
    for (let i = 0; i < CONFIGS.length; i++) {
      const { rate, cpu } = await measure(i)
      rates[i].push(rate)
      cpus_[i].push(cpu)
    }
  }
  const baseRate = summarize(rates[0]).median
  const baseCpu = summarize(cpus_[0]).median
  const results = CONFIGS.map((config, i) => {
    const rate = summarize(rates[i])
    const cpu = summarize(cpus_[i])
    return { name: config.name, throughput: rate, cpuUsPerTask: cpu, costPercent: ((baseRate - rate.median) / baseRate) * 100, cpuCostPercent: ((cpu.median - baseCpu) / baseCpu) * 100 }
  })
  const hot = await hotPath()
  const share = (ns: number) => (ns / 1000 / baseCpu) * 100
  const hotRows = [
    { 'observer work per task': 'metrics (received, started, ended)', 'CPU ns/task': hot.metricsNs, 'share of CPU per task, off': `${share(hot.metricsNs).toFixed(2)}%`, goal: '< 3%' },
    { 'observer work per task': 'tracing, no SDK (send, started, within, ended)', 'CPU ns/task': hot.noopTracingNs, 'share of CPU per task, off': `${share(hot.noopTracingNs).toFixed(2)}%`, goal: '< 1%' },
  ]
  const report = {
    benchmark: 'observability',
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, node: process.version },
    broker: process.env.BENCH_BROKER ?? 'memory://',
    tasks: N,
    runs: RUNS,
    unit: 'tasks/s',
    results,
    hotPath: { metricsNsPerTask: hot.metricsNs, noopTracingNsPerTask: hot.noopTracingNs, metricsSharePercent: share(hot.metricsNs), noopTracingSharePercent: share(hot.noopTracingNs) },
    goals: { metricsCostPercent: 3, noTracerCostPercent: 1 },
  }
  console.log(table(results.map((r) => ({ configuration: r.name, 'median tasks/s': r.throughput.median, min: r.throughput.min, max: r.throughput.max, 'throughput cost': `${r.costPercent.toFixed(1)}%`, 'CPU µs/task': r.cpuUsPerTask.median, 'CPU cost': `${r.cpuCostPercent.toFixed(1)}%` }))))
  console.log('')
  console.log(table(hotRows))
  console.log(JSON.stringify(report, null, 2))
  if (process.env.BENCH_SAVE) writeFileSync(new URL(`./results/observability-${report.date.slice(0, 10)}.json`, import.meta.url), JSON.stringify(report, null, 2) + '\n')
}
