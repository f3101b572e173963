// `npm run bench:nats`: celeriac on a real nats-server (started here), side by side with the raw
// JetStream ceilings of the same client in the same run:
//   - end-to-end throughput: 20,000 no-op tasks, results in KV, 2 worker threads
//   - enqueue rate: 20,000 tasks published (no worker)
//   - round trip: 1,000 sequential tasks, p50/p99
//   - raw: batched publish, consume + ack, publish+consume together (with nats.js's publish,
//     and with celeriac's reply mux for the acks), and a bare publish -> pull -> ack -> reply
//     round trip.
// Prints a table and JSON.
import { availableParallelism, cpus } from 'node:os'
import { createInbox } from '@nats-io/transport-node'
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream'
import { startNatsServer } from '../src/testing/nats-server.js'
import { connectNats } from '../src/transport/nats/connect.js'
import { requestsOf } from '../src/transport/nats/requests.js'
import { inWindows as windows, percentile, summarize, table } from './stats.js'

const N = Number(process.env.BENCH_N ?? 20_000)
const RT = Number(process.env.BENCH_RT ?? 1_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const WINDOW = 1_000
const server = await startNatsServer()
process.env.CELERIAC_BROKER_URL = server.url
const { app, noop } = await import('./fixtures/nats-noop-app.js')

const inWindows = (count: number, send: (i: number) => Promise<unknown>) => windows(count, WINDOW, send)

async function celeriacThroughput(run: number): Promise<number> {
  const queue = `tp-${run}`
  const node = app.worker({ concurrency: 2, tasksPerThread: 256, queues: [queue], hostname: `bench-${run}@%h` })
  await node.start()
  const began = performance.now()
  const results = (await inWindows(N, (i) => noop.applyAsync([i], { queue }))) as Awaited<ReturnType<typeof noop.delay>>[]
  await inWindows(N, (i) => results[i].get())
  const rate = N / ((performance.now() - began) / 1000)
  await node.stop()
  return rate
}

async function celeriacEnqueue(run: number): Promise<number> {
  const began = performance.now()
  await inWindows(N, (i) => noop.applyAsync([i], { queue: `enq-${run}` }))
  return N / ((performance.now() - began) / 1000)
}

async function celeriacRoundTrip(run: number): Promise<{ p50: number; p99: number }> {
  const queue = `rt-${run}`
  const node = app.worker({ concurrency: 2, queues: [queue], hostname: `rt-${run}@%h` })
  await node.start()
  const times: number[] = []
  for (let i = 0; i < RT; i++) {
    const began = performance.now()
    await (await noop.applyAsync([i], { queue })).get()
    times.push(performance.now() - began)
  }
  await node.stop()
  times.sort((a, b) => a - b)
  return { p50: percentile(times, 50), p99: percentile(times, 99) }
}

const nc = await connectNats(server.url)
const jsm = await jetstreamManager(nc)
const js = jetstream(nc)
const payload = new Uint8Array(150)

async function rawStream(name: string): Promise<void> {
  await jsm.streams.add({ name, subjects: [`raw.${name}`], retention: RetentionPolicy.Workqueue, storage: StorageType.File })
  await jsm.consumers.add(name, { durable_name: 'c', ack_policy: AckPolicy.Explicit })
}

async function rawPublish(run: number): Promise<number> {
  const name = `RAWPUB${run}`
  await rawStream(name)
  const began = performance.now()
  await inWindows(N, () => js.publish(`raw.${name}`, payload))
  return N / ((performance.now() - began) / 1000)
}

async function rawConsume(stream: string, count: number): Promise<void> {
  const consumer = await js.consumers.get(stream, 'c')
  const messages = await consumer.consume({ max_messages: 1000 })
  let seen = 0
  for await (const m of messages) {
    m.ack()
    if (++seen === count) break
  }
}

async function rawConsumeAck(run: number): Promise<number> {
  const name = `RAWPUB${run}`
  const began = performance.now()
  await rawConsume(name, N)
  return N / ((performance.now() - began) / 1000)
}

async function rawTogether(run: number): Promise<number> {
  const name = `RAWBOTH${run}`
  await rawStream(name)
  const began = performance.now()
  await Promise.all([inWindows(N, () => js.publish(`raw.${name}`, payload)), rawConsume(name, N)])
  return N / ((performance.now() - began) / 1000)
}

/** The same, with publish acks through celeriac's reply mux (src/transport/nats/requests.ts). */
async function rawTogetherMux(run: number): Promise<number> {
  const name = `RAWMUX${run}`
  await rawStream(name)
  const requests = requestsOf(nc)
  const began = performance.now()
  await Promise.all([inWindows(N, () => requests.publish(`raw.${name}`, payload)), rawConsume(name, N)])
  return N / ((performance.now() - began) / 1000)
}

async function rawRoundTrip(run: number): Promise<{ p50: number; p99: number }> {
  const name = `RAWRT${run}`
  await rawStream(name)
  const consumer = await js.consumers.get(name, 'c')
  let running = true
  const serve = (async () => {
    const messages = await consumer.consume({ max_messages: 1 })
    for await (const m of messages) {
      m.ack()
      const reply = m.headers?.get('reply')
      if (reply) nc.publish(reply, m.data)
      if (!running) break
    }
  })()
  const times: number[] = []
  const { headers } = await import('@nats-io/transport-node')
  for (let i = 0; i < RT; i++) {
    const inbox = createInbox()
    const sub = nc.subscribe(inbox, { max: 1 })
    const h = headers()
    h.set('reply', inbox)
    const began = performance.now()
    await js.publish(`raw.${name}`, payload, { headers: h })
    for await (const _ of sub) break
    times.push(performance.now() - began)
  }
  running = false
  await js.publish(`raw.${name}`, payload)
  await serve
  times.sort((a, b) => a - b)
  return { p50: percentile(times, 50), p99: percentile(times, 99) }
}

const samples: Record<string, number[]> = {}
const add = (name: string, value: number) => (samples[name] ??= []).push(value)
for (let run = 0; run < RUNS; run++) {
  add('celeriac end to end (tasks/s, KV results, 2 threads)', await celeriacThroughput(run))
  add('celeriac enqueue (tasks/s)', await celeriacEnqueue(run))
  const rt = await celeriacRoundTrip(run)
  add('celeriac round trip p50 (ms)', rt.p50)
  add('celeriac round trip p99 (ms)', rt.p99)
  add('raw JetStream publish, batched (msgs/s)', await rawPublish(run))
  add('raw JetStream consume + ack (msgs/s)', await rawConsumeAck(run))
  add('raw JetStream publish + consume together (msgs/s)', await rawTogether(run))
  add('raw publish (acks via reply mux) + consume together (msgs/s)', await rawTogetherMux(run))
  const raw = await rawRoundTrip(run)
  add('raw publish-pull-ack-reply round trip p50 (ms)', raw.p50)
  add('raw publish-pull-ack-reply round trip p99 (ms)', raw.p99)
}
await nc.close()
await app.close()
await server.cleanup()

const summary = Object.entries(samples).map(([name, values]) => ({ name, ...summarize(values) }))
const median = (prefix: string) => summary.find((s) => s.name.startsWith(prefix))!.median
const ratios = {
  endToEndVsRawTogether: median('celeriac end to end') / median('raw JetStream publish + consume'),
  endToEndVsRawTogetherMux: median('celeriac end to end') / median('raw publish (acks via reply mux)'),
  roundTripP50VsRaw: median('celeriac round trip p50') / median('raw publish-pull-ack-reply round trip p50'),
  roundTripP99Ms: median('celeriac round trip p99'),
}
console.log(table(summary.map((s) => ({ measure: s.name, median: Number(s.median.toFixed(2)), min: Number(s.min.toFixed(2)), max: Number(s.max.toFixed(2)) }))))
console.log(`\nend to end / raw publish+consume = ${ratios.endToEndVsRawTogether.toFixed(2)} (${ratios.endToEndVsRawTogetherMux.toFixed(2)} against the reply-mux publish); round trip p50 / raw = ${ratios.roundTripP50VsRaw.toFixed(2)}; p99 = ${ratios.roundTripP99Ms.toFixed(2)} ms\n`)
console.log(JSON.stringify({ benchmark: 'nats', date: new Date().toISOString(), machine: { cpus: availableParallelism(), model: cpus()[0]?.model, node: process.version }, server: '2.9.10', tasks: N, roundTrips: RT, runs: RUNS, results: summary, ratios }, null, 2))
