// celeriac in the comparison bench: on NATS with results in JetStream KV (at the defaults, and
// at 50 tasks in flight, BullMQ's usual setting: exactly 50 with no lookahead, and 50 running
// with the default lookahead), on NATS with rpc results, and on memory://.
// Each NATS run gets a fresh nats-server; the worker is a `celeriac worker` process, the client
// another process. Every configuration's threads and tasks in flight are in its name.
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { DEFAULTS } from '../../src/config/defaults.js'
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

/** Threads and tasks per thread at the defaults on this machine, as the worker resolves them. */
export const DEFAULT_THREADS = availableParallelism()
export const DEFAULT_IN_FLIGHT = DEFAULT_THREADS * DEFAULTS.workerTasksPerThread
/**
 * How a configuration is named: its threads and the tasks it runs at once, side by side with
 * the peers', and the lookahead (up to as many again reserved while tasks are short).
 */
export const DEFAULTS_LABEL = `defaults: -c ${DEFAULT_THREADS} x ${DEFAULTS.workerTasksPerThread} tasks/thread = ${DEFAULT_IN_FLIGHT} running, ${DEFAULTS.workerLookahead} lookahead`
/** celeriac holding exactly BullMQ c=50's 50 tasks: the goals' equal in-flight row. */
export const EQUAL_LABEL = 'NATS + KV results, -c 2 x 25 tasks/thread = 50 in flight (lookahead 0)'

/** celeriac on a fresh nats-server with its worker process given `workerArgs` (CLI flags). */
export function onNats(config: string, backend: string, workerArgs: string[] = []): Contender {
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
        const worker = await startWorkerProcess({ app: appModule, built: true, hostname: 'bench@%h', args: workerArgs, env })
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
  onNats(`NATS + KV results, ${DEFAULTS_LABEL}`, 'nats://'),
  onNats(EQUAL_LABEL, 'nats://', ['-c', '2', '--tasks-per-thread', '25', '--lookahead', '0']),
  onNats(`NATS + KV results, -c 2 x 25 tasks/thread = 50 running, ${DEFAULTS.workerLookahead} lookahead`, 'nats://', ['-c', '2', '--tasks-per-thread', '25']),
  onNats(`NATS + rpc results, ${DEFAULTS_LABEL}`, 'rpc://'),
  {
    system: 'celeriac',
    config: `memory://, ${DEFAULTS_LABEL} (one process)`,
    workloads: WORKLOADS,
    requires: [],
    run: (plan) => runClient(plan, { CELERIAC_BROKER_URL: 'memory://compare', CELERIAC_RESULT_BACKEND: 'memory://compare' }),
  },
]
