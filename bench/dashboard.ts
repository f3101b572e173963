// `npm run bench:dashboard`: the dashboard under load, on memory:// in one process.
//  1. ingest: 100,000 tasks' events (received, started, succeeded: 300,000 events, as a worker
//     sends them) published as fast as the broker takes them; events/s the state applies.
//  2. retained: RSS and heap with 100,000 tasks kept, and the API's answer time over them
//     (first page, a state filter, a text search that scans every task).
//  3. live: 2,000 tasks/s flowing (6,000 events/s) with a real page open in headless Chromium
//     (when /usr/bin/chromium exists): how long from a task-succeeded event until its row shows
//     on the page, and the CPU the dashboard adds (process CPU with the dashboard subscribed
//     less the same load without it; Chromium's own CPU is not counted).
// Prints a table and writes bench/results/dashboard.json.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { availableParallelism, cpus } from 'node:os'
import { createApp } from '../src/index.js'
import { sendEvent } from '../src/events/event-stream.js'
import type { CeleriacEvent } from '../src/events/events.js'
import type { Transport } from '../src/transport/transport.js'

const TASKS = Number(process.env.BENCH_TASKS ?? 100_000)
const RATE = Number(process.env.BENCH_RATE ?? 2_000)
const LIVE_SECONDS = Number(process.env.BENCH_LIVE_SECONDS ?? 10)
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

const app = createApp({ name: 'benchdash', broker: 'memory://benchdash', backend: 'memory://benchdash' })
const transport: Transport = await app.transport()
const host = 'bench@host'

function taskEvents(id: string, now: number, name = 'bench.add'): CeleriacEvent[] {
  return [
    { type: 'task-received', uuid: id, name, retries: 0, rootId: id, queue: 'celery', args: `[${now % 97},${now % 89}]`, kwargs: '{}', hostname: host, timestamp: now },
    { type: 'task-started', uuid: id, pid: process.pid, hostname: host, timestamp: now },
    { type: 'task-succeeded', uuid: id, runtime: 0.001 + (now % 7) / 1000, result: String(now % 1000), hostname: host, timestamp: now },
  ]
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(values.length * 0.95) - 1)]
const mib = (bytes: number) => Math.round(bytes / 1024 / 1024)
const gc = (globalThis as { gc?: () => void }).gc

// 1. Ingest.
const rssBefore = process.memoryUsage().rss
const handler = app.dashboard({ maxTasks: TASKS })
const dashboard = await handler.dashboard
const total = TASKS * 3
const began = performance.now()
for (let i = 0; i < TASKS; i++) {
  for (const event of taskEvents(`t-${i}`, Date.now())) sendEvent(transport, event)
  // Let the subscriber run now and then, as a socket would.
  if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve))
}
while (dashboard.state.eventsSeen < total) await new Promise((resolve) => setImmediate(resolve))
const ingestSeconds = (performance.now() - began) / 1000
const eventsPerSecond = total / ingestSeconds

// 2. Retained.
gc?.()
const memory = process.memoryUsage()
const timings: Record<string, number[]> = { 'first page (25)': [], 'state=SUCCESS page': [], 'text search (scans all)': [] }
const paths: Record<string, string> = { 'first page (25)': '/api/tasks?limit=25', 'state=SUCCESS page': '/api/tasks?state=SUCCESS&limit=25', 'text search (scans all)': '/api/tasks?search=no-such-text&limit=25' }
for (let run = 0; run < 15; run++) {
  for (const [label, path] of Object.entries(paths)) {
    const start = performance.now()
    const response = await handler.fetch(new Request('http://bench' + path))
    await response.text()
    timings[label].push(performance.now() - start)
  }
}

// 3. Live: a steady flow, then the same flow with the dashboard and a page.
async function flow(seconds: number, onTick?: (tick: number) => void): Promise<{ cpuMs: number }> {
  const perTick = RATE / 100
  const cpu = process.cpuUsage()
  const end = performance.now() + seconds * 1000
  let n = 0
  let tick = 0
  while (performance.now() < end) {
    const next = performance.now() + 10
    for (let i = 0; i < perTick; i++) for (const event of taskEvents(`f-${tick}-${n++}`, Date.now())) sendEvent(transport, event)
    onTick?.(tick++)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())))
  }
  const used = process.cpuUsage(cpu)
  return { cpuMs: (used.user + used.system) / 1000 }
}

let live: { latencyMs: number[]; cpuBase: number; cpuWith: number } | undefined
if (existsSync(CHROMIUM)) {
  const { chromium } = await import('playwright-core')
  const server = createServer(handler).listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
  const page = await browser.newPage()
  // The page searches for the markers: each refresh scans every retained task, as a user's search would.
  await page.goto(url + '#/tasks?search=marker')
  await page.locator('#tasks').waitFor()
  // Baseline: the same flow with nobody subscribed to events.
  await handler.close()
  const base = await flow(LIVE_SECONDS / 2)
  const again = app.dashboard({ maxTasks: TASKS })
  const second = await again.dashboard
  server.removeAllListeners('request')
  server.on('request', again)
  // Refill the retained tasks so the live phase runs at 100,000 kept.
  for (let i = 0; i < TASKS; i++) {
    for (const event of taskEvents(`t-${i}`, Date.now())) sendEvent(transport, event)
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve))
  }
  while (second.state.eventsSeen < total) await new Promise((resolve) => setImmediate(resolve))
  await page.reload()
  await page.locator('#tasks').waitFor()
  const latencyMs: number[] = []
  const waits: Promise<void>[] = []
  const withDashboard = await flow(LIVE_SECONDS, (tick) => {
    if (tick % 50 !== 25) return
    const id = `marker-${tick}`
    const sent = performance.now()
    for (const event of taskEvents(id, Date.now(), 'bench.marker')) sendEvent(transport, event)
    waits.push(page.locator(`tr[data-task="${id}"] .state-success`).waitFor({ timeout: 10_000 }).then(() => void latencyMs.push(performance.now() - sent)))
  })
  await Promise.all(waits)
  live = { latencyMs, cpuBase: base.cpuMs / (LIVE_SECONDS / 2) / 10, cpuWith: withDashboard.cpuMs / LIVE_SECONDS / 10 }
  await browser.close()
  server.closeAllConnections()
  server.close()
  await again.close()
} else {
  await handler.close()
}
await app.close()

const rows: [string, string][] = [
  ['events ingested per second', `${Math.round(eventsPerSecond).toLocaleString('en')} (${total.toLocaleString('en')} events in ${ingestSeconds.toFixed(2)} s)`],
  [`RSS with ${TASKS.toLocaleString('en')} tasks kept`, `${mib(memory.rss)} MiB (${mib(memory.rss - rssBefore)} MiB more than before the dashboard)`],
  ['heap used', `${mib(memory.heapUsed)} MiB`],
  ...Object.entries(timings).map(([label, values]): [string, string] => [`GET /api/tasks, ${label}`, `${median(values).toFixed(1)} ms median, ${p95(values).toFixed(1)} ms p95`]),
]
if (live) {
  rows.push([`event to page at ${RATE.toLocaleString('en')} tasks/s`, `${median(live.latencyMs).toFixed(0)} ms median, ${p95(live.latencyMs).toFixed(0)} ms p95, ${Math.max(...live.latencyMs).toFixed(0)} ms max (${live.latencyMs.length} markers)`])
  rows.push([`CPU at ${RATE.toLocaleString('en')} tasks/s (one core = 100 %)`, `${live.cpuWith.toFixed(0)} % with the dashboard and a page, ${live.cpuBase.toFixed(0)} % without: the dashboard adds ${(live.cpuWith - live.cpuBase).toFixed(0)} %`])
} else {
  rows.push(['event to page', `skipped: no Chromium at ${CHROMIUM}`])
}
const width = Math.max(...rows.map(([k]) => k.length))
console.log(`\nceleriac dashboard benchmark (Node ${process.versions.node}, ${availableParallelism()} cores, ${cpus()[0]?.model ?? '?'})\n`)
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/dashboard.json', import.meta.url), JSON.stringify({ date: new Date().toISOString(), node: process.versions.node, cores: availableParallelism(), tasks: TASKS, rate: RATE, eventsPerSecond, ingestSeconds, rssMiB: mib(memory.rss), heapUsedMiB: mib(memory.heapUsed), apiMs: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, { median: median(v), p95: p95(v) }])), live }, null, 2) + '\n')
