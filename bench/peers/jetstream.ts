// The raw JetStream ceiling in the comparison bench: the same no-op workload through
// `@nats-io/jetstream` with no task machinery (publish, consume, one KV put per message as its
// result, ack), in a worker process and a client process as celeriac runs, on a fresh
// nats-server per run. celeriac's goal is a share of this figure.
import { natsServerAvailable, startNatsServer } from '../../src/testing/nats-server.js'
import { root, tsNode, type Contender, type Requirement } from './contender.js'
import type { Measures } from './plan.js'
import { adopt, runJson, startProcess } from './processes.js'

const NATS: Requirement = { what: 'nats-server', available: natsServerAvailable, install: 'apt-get install -y nats-server' }

/** The ceiling: one worker process with one consumer (1,000 messages pulled at a time). */
export const jetstreamContenders: Contender[] = [
  {
    system: 'JetStream',
    config: 'raw: publish + consume + KV put + ack, no task machinery (1,000 pulled)',
    workloads: ['throughput', 'roundTrip'],
    requires: [NATS],
    async run(plan) {
      const server = await startNatsServer()
      const serverHandle = adopt('nats-server', () => server.cleanup())
      try {
        const [command, args] = tsNode(new URL('./jetstream-worker.ts', import.meta.url).href, server.url)
        const worker = await startProcess('raw JetStream worker', command, args, { ready: /^ready$/m, cwd: root })
        try {
          const [client, clientArgs] = tsNode(new URL('./jetstream-client.ts', import.meta.url).href, JSON.stringify(plan))
          return await runJson<Measures>('raw JetStream client', client, clientArgs, { env: { BENCH_NATS_URL: server.url }, cwd: root })
        } finally {
          await worker.stop()
        }
      } finally {
        await serverHandle.stop()
      }
    },
  },
]
