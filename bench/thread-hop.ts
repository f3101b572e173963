// `npm run bench:thread-hop`: the cost of crossing the thread boundary for a no-op call, with
// many calls in flight, on 2 worker threads, three ways side by side in one run:
//   1. comlink: a wrap()ed API, one `await api.noop(i)` per call, calls issued in windows
//      (Promise.all per window), round robin over the 2 threads;
//   2. raw postMessage: one cloned {id, value} per call, answered through an id map, the same
//      windows;
//   3. the runtime's flat batches (src/protocol/thread-batch.ts), driven as ThreadHandle and
//      ActorHost drive them: 64 slots per thread, every task queued in a turn goes out as one
//      RunBatch (buffers transferred), the thread decodes each ~60-byte msgpack frame, encodes
//      the result and answers with one OutcomeBatch per turn; freed slots are refilled at once.
// By default a window holds 2 x 64 calls, so every contender has at most 128 calls in flight.
// Prints a table and JSON. Env: BENCH_N, BENCH_RUNS, BENCH_BATCH, BENCH_WINDOW, BENCH_WARMUP,
// BENCH_ONLY (name prefix), BENCH_SAVE (write bench/results/thread-hop-<date>.json).
import { availableParallelism, cpus } from 'node:os'
import { writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads'
import { wrap, releaseProxy, type Remote } from 'comlink'
import nodeEndpoint from 'comlink/dist/umd/node-adapter.js'
import { Packr } from 'msgpackr'
import { installComlinkErrorHandler } from '../src/protocol/comlink-errors.js'
import { readOutcomes, RunBatchWriter, OutcomeKind, type OutcomeBatch } from '../src/protocol/thread-batch.js'
import { spawnThread } from '../src/worker/pool/spawn.js'
import { summarize, table } from './stats.js'

const N = Number(process.env.BENCH_N ?? 100_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const THREADS = 2
const BATCH = Number(process.env.BENCH_BATCH ?? 64)
const WINDOW = Number(process.env.BENCH_WINDOW ?? THREADS * BATCH)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10_000)

interface NoopApi {
  noop(i: number): number
}

// The frames a broker would deliver: already encoded, forwarded untouched by the main thread.
const packr = new Packr({ useRecords: false, moreTypes: true })
const frameOf = (i: number) => new Uint8Array(packr.pack(['bench.noop', [i], { id: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}` }]))
const frames = Array.from({ length: Math.max(N, WARMUP) }, (_, i) => frameOf(i))
const frameBytes = frames.reduce((sum, f) => sum + f.byteLength, 0) / frames.length

// Two threads, each with one port per contender.
installComlinkErrorHandler()
const adapt = nodeEndpoint as unknown as (port: MessagePort) => Parameters<typeof wrap>[0]
interface Lane {
  worker: Worker
  api: Remote<NoopApi>
  raw: MessagePort
  batch: MessagePort
  ports: MessagePort[]
}
const lanes: Lane[] = []
for (let t = 0; t < THREADS; t++) {
  const comlink = new MessageChannel()
  const raw = new MessageChannel()
  const batch = new MessageChannel()
  const worker = spawnThread(new URL('./fixtures/thread-hop-thread.ts', import.meta.url), {
    workerData: { comlink: comlink.port2, raw: raw.port2, batch: batch.port2 },
    transferList: [comlink.port2, raw.port2, batch.port2],
  })
  lanes.push({ worker, api: wrap<NoopApi>(adapt(comlink.port1)), raw: raw.port1, batch: batch.port1, ports: [comlink.port1, raw.port1, batch.port1] })
}
const failed = new Promise<never>((_, reject) => {
  for (const { worker } of lanes) worker.on('error', reject)
})
failed.catch(() => {})
await Promise.race([Promise.all(lanes.map(({ worker }) => once(worker, 'message'))), failed])

const expectedSum = (n: number) => (n * (n - 1)) / 2
const check = (name: string, n: number, sum: number) => {
  if (sum !== expectedSum(n)) throw new Error(`${name}: wrong results (sum ${sum}, expected ${expectedSum(n)})`)
}

// 1. comlink.
async function comlink(n: number): Promise<number> {
  let sum = 0
  const began = performance.now()
  for (let base = 0; base < n; base += WINDOW) {
    const end = Math.min(base + WINDOW, n)
    const calls: Promise<number>[] = []
    for (let i = base; i < end; i++) calls.push(lanes[i % THREADS].api.noop(i))
    for (const value of await Promise.all(calls)) sum += value
  }
  const seconds = (performance.now() - began) / 1000
  check('comlink', n, sum)
  return n / seconds
}

// 2. raw postMessage with an id map.
const pending = new Map<number, (value: number) => void>()
for (const lane of lanes) {
  lane.raw.on('message', (message: { id: number; value: number }) => {
    const resolve = pending.get(message.id)!
    pending.delete(message.id)
    resolve(message.value)
  })
}
let nextId = 0
const rawCall = (port: MessagePort, value: number) =>
  new Promise<number>((resolve) => {
    const id = nextId++
    pending.set(id, resolve)
    port.postMessage({ id, value })
  })

async function raw(n: number): Promise<number> {
  let sum = 0
  const began = performance.now()
  for (let base = 0; base < n; base += WINDOW) {
    const end = Math.min(base + WINDOW, n)
    const calls: Promise<number>[] = []
    for (let i = base; i < end; i++) calls.push(rawCall(lanes[i % THREADS].raw, i))
    for (const value of await Promise.all(calls)) sum += value
  }
  const seconds = (performance.now() - began) / 1000
  check('raw postMessage', n, sum)
  return n / seconds
}

// 3. flat batches: per thread, slots, an outbox flushed at the end of the turn (ThreadHandle).
interface Outbox {
  lane: Lane
  writer: RunBatchWriter
  free: number[]
  /** The call in each slot (what ThreadHandle.items holds). */
  items: Int32Array
  flushQueued: boolean
  flush: () => void
}
const outboxes: Outbox[] = lanes.map((lane) => {
  const box: Outbox = {
    lane,
    writer: new RunBatchWriter(),
    free: [],
    items: new Int32Array(0),
    flushQueued: false,
    flush: () => {
      box.flushQueued = false
      if (box.writer.size === 0) return
      const batch = box.writer.take()
      lane.batch.postMessage(batch, [batch.frames, batch.table])
    },
  }
  return box
})

async function batches(n: number): Promise<number> {
  let next = 0
  let done = 0
  let sum = 0
  let finish!: () => void
  let fail!: (error: Error) => void
  const finished = new Promise<void>((resolve, reject) => ((finish = resolve), (fail = reject)))
  const dispatch = (box: Outbox, i: number) => {
    const slot = box.free.pop()!
    box.items[slot] = i
    box.writer.add({ slot, frame: frames[i], queue: 'celery', exchange: '', routingKey: 'celery', priority: 0, redelivered: false, reportStart: false, ignoreResult: false, softTimeLimitMs: undefined })
    if (!box.flushQueued) {
      box.flushQueued = true
      queueMicrotask(box.flush)
    }
  }
  const listeners = outboxes.map((box) => {
    const listener = (message: OutcomeBatch) => {
      readOutcomes(message, (outcome) => {
        const value = packr.unpack(outcome.result!) as number
        if (outcome.kind !== OutcomeKind.Success || value !== box.items[outcome.slot]) fail(new Error(`batches: wrong outcome for slot ${outcome.slot}`))
        box.free.push(outcome.slot)
        sum += value
        done++
      })
      while (box.free.length > 0 && next < n) dispatch(box, next++)
      if (done === n) finish()
    }
    box.lane.batch.on('message', listener)
    return listener
  })
  const began = performance.now()
  for (const box of outboxes) {
    box.items = new Int32Array(BATCH)
    box.free = Array.from({ length: BATCH }, (_, i) => BATCH - 1 - i)
  }
  // Round robin while filling the slots; afterwards each thread's freed slots are refilled.
  for (let k = 0; k < THREADS * BATCH && next < n; k++) dispatch(outboxes[k % THREADS], next++)
  await finished
  const seconds = (performance.now() - began) / 1000
  outboxes.forEach((box, t) => box.lane.batch.off('message', listeners[t]))
  check('batches', n, sum)
  return n / seconds
}

const contenders: [string, (n: number) => Promise<number>][] = [
  [`comlink (2 threads, ${WINDOW} per window)`, comlink],
  [`raw postMessage + id map (2 threads, ${WINDOW} per window)`, raw],
  [`flat batches (2 threads, ${BATCH} per thread per turn)`, batches],
]
const only = process.env.BENCH_ONLY
if (only) contenders.splice(0, contenders.length, ...contenders.filter(([name]) => name.startsWith(only)))
const samples = new Map<string, number[]>(contenders.map(([name]) => [name, []]))
try {
  if (WARMUP > 0) for (const [, fn] of contenders) await Promise.race([fn(WARMUP), failed])
  for (let run = 0; run < RUNS; run++) {
    for (const [name, fn] of contenders) samples.get(name)!.push(await Promise.race([fn(N), failed]))
  }
} finally {
  for (const lane of lanes) {
    lane.api[releaseProxy]()
    for (const port of lane.ports) port.close()
  }
  await Promise.all(lanes.map(({ worker }) => worker.terminate()))
}

const summary = contenders.map(([name]) => ({ name, ...summarize(samples.get(name)!) }))
const median = (prefix: string) => summary.find((s) => s.name.startsWith(prefix))?.median
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? a / b : undefined)
const [ofBatches, ofComlink, ofRaw] = [median('flat batches'), median('comlink'), median('raw postMessage')]
const report = {
  benchmark: 'thread-hop',
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), model: cpus()[0]?.model, node: process.version },
  calls: N,
  runs: RUNS,
  threads: THREADS,
  window: WINDOW,
  batchPerThread: BATCH,
  frameBytes: Math.round(frameBytes * 10) / 10,
  unit: 'calls/s',
  results: summary,
  ratioBatchesToComlink: ratio(ofBatches, ofComlink),
  ratioBatchesToRawPostMessage: ratio(ofBatches, ofRaw),
}
console.log(table(summary.map((s) => ({ contender: s.name, 'median calls/s': s.median, min: s.min, max: s.max }))))
const fixed = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(2))
console.log(`\nflat batches / comlink = ${fixed(report.ratioBatchesToComlink)}, flat batches / raw postMessage = ${fixed(report.ratioBatchesToRawPostMessage)}\n`)
console.log(JSON.stringify(report, null, 2))
if (process.env.BENCH_SAVE) writeFileSync(new URL(`./results/thread-hop-${report.date.slice(0, 10)}.json`, import.meta.url), JSON.stringify(report, null, 2) + '\n')
