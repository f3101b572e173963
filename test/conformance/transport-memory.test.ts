import t from 'tap'
import { MemoryBroker } from '../../src/transport/memory/memory-broker.js'
import { MemoryTransport } from '../../src/transport/memory/memory-transport.js'
import { runTransportSuite } from './transport.case.js'

await runTransportSuite(t, {
  name: 'memory',
  create: async () => {
    // A fresh broker per test: nothing one test leaves behind can reach another.
    const broker = new MemoryBroker()
    const connect = async () => {
      const transport = new MemoryTransport({ broker })
      await transport.connect()
      return transport
    }
    return { transport: await connect(), second: connect }
  },
})
