// The raw JetStream ceiling's client (bench/peers/jetstream.ts): publishes each task as one
// JetStream message on `raw.tasks` and waits for its result, the KV entry the worker writes
// under the message's sequence, through a core subscription to the bucket's subjects (as
// celeriac's result watches do). Runs the throughput and round-trip workloads; prints JSON.
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { deferred, type Deferred } from '../../src/util/deferred.js'
import { drive, planFromArgv, type Driver } from './drive.js'
import { Unavailable } from './plan.js'

const plan = planFromArgv()
const nc = await connect({ servers: process.env.BENCH_NATS_URL })
const js = jetstream(nc)
const arrived = new Map<string, Uint8Array>()
const waiting = new Map<string, Deferred<Uint8Array>>()
const results = nc.subscribe('$KV.RAW.>', {
  callback: (_error, m) => {
    const key = m.subject.slice('$KV.RAW.'.length)
    const waiter = waiting.get(key)
    if (waiter) {
      waiting.delete(key)
      waiter.resolve(m.data)
    } else arrived.set(key, m.data)
  },
})
await nc.flush()

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const driver: Driver<string> = {
  async send(task, arg) {
    if (task !== 'noop') throw new Unavailable('the raw ceiling runs no-op tasks only')
    return `r${(await js.publish('raw.tasks', encoder.encode(String(arg)))).seq}`
  },
  async result(key) {
    const data = arrived.get(key)
    if (data) arrived.delete(key)
    const value = data ?? (await (waiting.get(key) ?? waiting.set(key, deferred<Uint8Array>()).get(key)!).promise)
    return Number(decoder.decode(value))
  },
  enqueue: () => Promise.reject(new Unavailable('not measured for the raw ceiling')),
  chord: () => Promise.reject(new Unavailable('not measured for the raw ceiling')),
}
const measures = await drive(driver, plan)
results.unsubscribe()
await nc.close()
console.log(JSON.stringify(measures))
