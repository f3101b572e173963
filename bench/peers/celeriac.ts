// celeriac in the comparison bench: on NATS with results in JetStream KV, on NATS with rpc
// results, and on memory://. Each NATS run gets a fresh nats-server; the worker is a
// `celeriac worker -c 2` process, the client another process.
import { fileURLToPath } from 'node:url'
import { natsServerAvailable, startNatsServer } from '../../src/testing/nats-server.js'
import { startWorkerProcess } from '../../test/helpers/worker-process.js'
import { root, tsNode, type Contender, type Requirement } from './contender.js'
import { WORKLOADS, type Measures, type Plan } from './plan.js'
import { adopt, runJson } from './processes.js'

const NATS: Requirement = { what: 'nats-server', available: natsServerAvailable, install: 'apt-get install -y nats-server' }
const appModule = fileURLToPath(new URL('../fixtures/compare-app.ts', import.meta.url))
const client = new URL('./celeriac-client.ts', import.meta.url).href

function runClient(plan: Plan, env: Record<string, string>): Promise<Measures> {
  const [command, args] = tsNode(client, JSON.stringify(plan))
  return runJson<Measures>('celeriac client', command, args, { env, cwd: root })
}

function onNats(config: string, backend: string): Contender {
  return {
    system: 'celeriac',
    config,
    workloads: WORKLOADS,
    requires: [NATS],
    async run(plan) {
      const server = await startNatsServer()
      const serverHandle = adopt('nats-server', () => server.cleanup())
      try {
        const env = { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: backend }
        const worker = await startWorkerProcess({ app: appModule, hostname: 'bench@%h', args: ['-c', '2'], env })
        const workerHandle = adopt('celeriac worker', () => worker.stop(), worker.child.pid)
        try {
          return await runClient(plan, env)
        } finally {
          await workerHandle.stop()
        }
      } finally {
        await serverHandle.stop()
      }
    },
  }
}

/** celeriac's configurations. */
export const celeriacContenders: Contender[] = [
  onNats('NATS + KV results, -c 2', 'nats://'),
  onNats('NATS + rpc results, -c 2', 'rpc://'),
  {
    system: 'celeriac',
    config: 'memory://, -c 2 (one process)',
    workloads: WORKLOADS,
    requires: [],
    run: (plan) => runClient(plan, { CELERIAC_BROKER_URL: 'memory://compare', CELERIAC_RESULT_BACKEND: 'memory://compare' }),
  },
]
