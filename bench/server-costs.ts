// `npm run bench:server-costs`: what two of celeriac's choices cost nats-server, in CPU per
// message, each against the same stream without it, on one fresh server:
//   - the Nats-Msg-Id header on every task publish (JetStream's duplicate window, 2 min, makes
//     a re-sent publish idempotent), on a work-queue stream with file storage;
//   - the republish of every write to the results bucket (what key watches subscribe to; see
//     src/result/nats-kv/key-watch.ts), on a stream shaped as a KV bucket (one message kept
//     per key), with no subscriber on the republished subjects.
// Each configuration publishes `--messages` (40,000) JetStream messages of 300 bytes, 500 in
// flight, awaiting every ack; server CPU from /proc. Interleaved runs (`--runs`, default 3),
// medians. Prints a table and JSON.
import { parseArgs } from 'node:util'
import { jetstream, jetstreamManager, RetentionPolicy, type StreamConfig } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { startNatsServer } from '../src/testing/nats-server.js'
import { cpuSeconds, serverPid } from './proc.js'
import { summarize, table } from './stats.js'

const { values: flags } = parseArgs({ options: { runs: { type: 'string' }, messages: { type: 'string' } }, strict: true })
const runs = Number(flags.runs ?? 3)
const messages = Number(flags.messages ?? 40_000)
const WINDOW = 500
const payload = new Uint8Array(300).fill(0x61)

interface Config {
  name: string
  stream: (name: string) => Partial<StreamConfig>
  /** The message id of message `i`, or none. */
  msgId?: (i: number) => string
}

const configs: Config[] = [
  { name: 'work queue, no message id', stream: (name) => ({ subjects: [`${name}.q`], retention: RetentionPolicy.Workqueue }) },
  { name: 'work queue, Nats-Msg-Id on every publish', stream: (name) => ({ subjects: [`${name}.q`], retention: RetentionPolicy.Workqueue }), msgId: (i) => `0f8fad5b-d9cb-469f-a165-${String(i).padStart(12, '0')}` },
  { name: 'KV-shaped, no republish', stream: (name) => ({ subjects: [`$KV.${name}.>`], max_msgs_per_subject: 1, allow_direct: true }) },
  { name: 'KV-shaped, every write republished', stream: (name) => ({ subjects: [`$KV.${name}.>`], max_msgs_per_subject: 1, allow_direct: true, republish: { src: `$KV.${name}.>`, dest: `_kvr.${name}.>` } }) },
]

const server = await startNatsServer()
const samples = new Map<string, number[]>(configs.map((c) => [c.name, []]))
let streams = 0
try {
  const pid = serverPid()
  const nc = await connect({ servers: server.url })
  const jsm = await jetstreamManager(nc)
  const js = jetstream(nc)
  for (let run = 1; run <= runs; run++) {
    for (const config of configs) {
      const name = `S${++streams}`
      await jsm.streams.add({ name, ...config.stream(name) })
      const subject = config.name.startsWith('KV') ? (i: number) => `$KV.${name}.0f8fad5b-d9cb-469f-a165-${String(i).padStart(12, '0')}` : () => `${name}.q`
      const before = cpuSeconds(pid)
      for (let sent = 0; sent < messages; sent += WINDOW) {
        await Promise.all(Array.from({ length: Math.min(WINDOW, messages - sent) }, (_, k) => js.publish(subject(sent + k), payload, config.msgId ? { msgID: config.msgId(sent + k) } : undefined)))
      }
      const perMessage = ((cpuSeconds(pid) - before) * 1e6) / messages
      samples.get(config.name)!.push(perMessage)
      console.log(`run ${run}/${runs}, ${config.name}: nats-server ${perMessage.toFixed(1)} us CPU per message`)
      await jsm.streams.delete(name)
    }
  }
  await nc.close()
} finally {
  await server.cleanup()
}
const rows = configs.map((c) => {
  const { median, min, max } = summarize(samples.get(c.name)!)
  return { stream: c.name, 'server µs/message (median)': Number(median.toFixed(1)), min: Number(min.toFixed(1)), max: Number(max.toFixed(1)) }
})
console.log(`\n${messages} JetStream publishes of ${payload.byteLength} bytes per configuration, ${WINDOW} in flight; medians of ${runs} interleaved runs\n${table(rows)}`)
console.log(JSON.stringify({ benchmark: 'server-costs', date: new Date().toISOString(), messages, runs, rows }, null, 2))
