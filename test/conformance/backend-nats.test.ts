import t from 'tap'
import { NatsKvBackend } from '../../src/result/nats-kv/nats-kv-backend.js'
import { RpcBackend } from '../../src/result/rpc/rpc-backend.js'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { runBackendSuite } from './backend.case.js'

let server: NatsServer
t.before(async () => {
  server = await startNatsServer()
})
t.teardown(() => server?.cleanup())

// A bucket (and prefix) per test: every test creates its own, so none sees another's records.
let n = 0

runBackendSuite(t, {
  name: 'nats kv',
  create: async () => {
    const bucket = `conformance-${process.pid}-${++n}`
    return {
      backend: new NatsKvBackend({ url: server.url, bucket, prefix: 'app', resultExpiresMs: 60_000 }),
      second: async () => new NatsKvBackend({ url: server.url, bucket, prefix: 'app', resultExpiresMs: 60_000 }),
    }
  },
})

// rpc:// declares neither `stores` nor `chords` (Celery's rpc backend has neither): get() reads
// only what this process stored or received, so another connection cannot read a record after
// the fact, and a chord cannot be joined (sending one is a ConfigError, tested in canvas-nats).
// The suite skips those tests by capability, naming it.
runBackendSuite(t, {
  name: 'rpc',
  create: async () => {
    const prefix = `conformance-${process.pid}-${++n}`
    return {
      backend: new RpcBackend({ url: server.url, prefix }),
      second: async () => new RpcBackend({ url: server.url, prefix }),
    }
  },
})
