import t from 'tap'
import { NatsTransport } from '../../src/transport/nats/nats-transport.js'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { runTransportSuite } from './transport.case.js'

let server: NatsServer
t.before(async () => {
  server = await startNatsServer()
})
t.teardown(() => server?.cleanup())

// A prefix per test: its streams, buckets and subjects are its own, so no test sees another's.
let n = 0

await runTransportSuite(t, {
  name: 'nats',
  create: async () => {
    const prefix = `t${process.pid}-${++n}`
    const connect = async () => {
      const transport = new NatsTransport({ url: server.url, prefix })
      await transport.connect()
      return transport
    }
    return { transport: await connect(), second: connect }
  },
  skip: [
    {
      reason: 'JetStream 2.9 has no message priorities: a stream delivers in FIFO order whatever the priority',
      tests: ['priority - higher priority first, FIFO within a level'],
    },
  ],
})
