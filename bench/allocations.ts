// `npm run bench:allocations`: what the embedded path costs the main thread's heap, in figures
// that do not move with the machine's load (unlike its timings):
// - bytes allocated per task on the main thread, short-lived ones included (V8's sampling heap
//   profiler, every object it samples kept whether collected or not), over 100,000 no-op tasks
//   through memory:// with 2 threads, results stored, after two warm-up rounds;
// - heap still in use after each of the two warm-up rounds once its results are forgotten and a
//   full GC ran: what a long-running process keeps (the broker's duplicate window, mostly);
// - bytes per task id the memory:// broker remembers for its duplicate window (a million ids).
// Prints a table and JSON. Needs --expose-gc (the npm script passes it).
import { Session } from 'node:inspector/promises'
import { MemoryBroker } from '../src/transport/memory/memory-broker.js'
import { systemClock } from '../src/util/clock.js'
import { newTaskId } from '../src/util/ids.js'
import { app, noop } from './fixtures/noop-app.js'
import { table } from './stats.js'

const N = Number(process.env.BENCH_N ?? 100_000)
const ROUNDS = 3
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:allocations does)')

interface SampleNode {
  selfSize: number
  children: SampleNode[]
}
const total = (node: SampleNode): number => node.selfSize + node.children.reduce((sum, child) => sum + total(child), 0)
const heapUsed = () => {
  gc()
  return process.memoryUsage().heapUsed
}

// The duplicate window alone, first, in a heap that holds nothing else yet: a broker of its own, a million publishes with a new task id each,
// then the queue purged: what is left is what the broker remembers of the ids.
function bytesPerRememberedId(ids: number): number {
  const broker = new MemoryBroker()
  broker.declareQueue({ name: 'q' }, { ackWaitMs: 30_000, maxDeliver: 1 }, systemClock)
  const body = new Uint8Array(1)
  const before = heapUsed() + process.memoryUsage().arrayBuffers
  for (let i = 0; i < ids; i++) broker.publish({ exchange: '', routingKey: 'q', body, msgId: newTaskId() }, systemClock, 120_000)
  broker.queue('q').purge()
  return (heapUsed() + process.memoryUsage().arrayBuffers - before) / ids
}
const perId = bytesPerRememberedId(1_000_000)

const session = new Session()
session.connect()
let allocatedPerTask = NaN
const retainedMb: number[] = []
for (let round = 0; round < ROUNDS; round++) {
  const node = app.worker({ concurrency: 2, hostname: 'bench@%h' })
  await node.start()
  const sampled = round === ROUNDS - 1
  if (sampled) await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
  const sent = []
  for (let i = 0; i < N; i++) sent.push(noop.delay(i))
  const results = await Promise.all(sent)
  const values = await Promise.all(results.map((r) => r.get()))
  if (sampled) {
    const { profile } = await session.post('HeapProfiler.stopSampling')
    allocatedPerTask = total(profile.head as SampleNode) / N
  }
  values.forEach((v, i) => {
    if (v !== i) throw new Error(`wrong result for task ${i}: ${JSON.stringify(v)}`)
  })
  await node.stop()
  const backend = await app.backend()
  await Promise.all(results.map((r) => backend.forget(r.id)))
  results.length = 0
  sent.length = 0
  // The sampled round's heap holds the profiler's samples too: not reported.
  if (!sampled) retainedMb.push(heapUsed() / 1e6)
}
await app.close()

const rows = [
  { measure: 'main-thread bytes allocated per task', value: allocatedPerTask },
  ...retainedMb.map((mb, i) => ({ measure: `heap in use after round ${i + 1}, results forgotten (MB)`, value: mb })),
  { measure: 'bytes per task id remembered for the duplicate window', value: perId },
]
console.log(table(rows.map((r) => ({ measure: r.measure, value: r.value }))))
console.log(JSON.stringify({ benchmark: 'allocations', date: new Date().toISOString(), node: process.version, tasks: N, rows }, null, 2))
