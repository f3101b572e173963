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

runBackendSuite(t, {
  name: 'rpc',
  create: async () => {
    const prefix = `conformance-${process.pid}-${++n}`
    return {
      backend: new RpcBackend({ url: server.url, prefix }),
      second: async () => new RpcBackend({ url: server.url, prefix }),
    }
  },
  skip: [
    {
      reason: 'rpc:// stores nothing: get() reads only what this process stored or received on a watch, so another connection cannot read a record after the fact (Celery rpc semantics)',
      tests: ['connections - a record stored by one is read by another'],
    },
    {
      reason: 'rpc:// stores nothing, so it cannot join chords (Celery\'s rpc backend cannot either); sending a chord with it is a ConfigError, tested in canvas-nats',
      tests: [
        'chords - the report that completes a chord gets its record, and only that one',
        'chords - a member reported twice counts once',
        'chords - reports racing on two connections complete the chord exactly once',
        'chords - a member index out of range is refused',
      ],
    },
  ],
})
