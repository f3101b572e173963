// The raw JetStream ceiling's worker process (bench/peers/jetstream.ts): no task machinery.
// Consumes the `RAW` work queue with explicit acks, puts each message's payload as its result
// into the KV bucket `RAW` under the message's stream sequence, and acks once the put is stored
// (what celeriac does for an acksLate task). Prints "ready" once it consumes; TERM closes it.
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { connect } from '@nats-io/transport-node'

const [url] = process.argv.slice(2)
const nc = await connect({ servers: url })
const jsm = await jetstreamManager(nc)
await jsm.streams.add({ name: 'RAW', subjects: ['raw.tasks'], retention: RetentionPolicy.Workqueue, storage: StorageType.File })
await jsm.consumers.add('RAW', { durable_name: 'w', ack_policy: AckPolicy.Explicit })
const kv = await new Kvm(jetstream(nc)).create('RAW', { history: 1 })
const consumer = await jetstream(nc).consumers.get('RAW', 'w')
const messages = await consumer.consume({ max_messages: 1_000 })
console.log('ready')
process.once('SIGTERM', () => void messages.close().then(() => nc.close()).then(() => process.exit(0)))
for await (const m of messages) {
  kv.put(`r${m.seq}`, m.data).then(() => m.ack(), (error: unknown) => {
    console.error(error)
    m.nak()
  })
}
