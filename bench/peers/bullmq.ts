// BullMQ in the comparison bench, on Redis: a Worker process at concurrency 1 and 50 (an
// async processor's usual setting), and for the CPU-bound workload at concurrency 2, in the
// event loop and sandboxed in worker threads. Each run gets a fresh Redis.
import { createRequire } from 'node:module'
import { root, tsNode, type Contender, type Requirement } from './contender.js'
import type { Measures, Plan, Workload } from './plan.js'
import { runJson, startProcess } from './processes.js'
import { REDIS, withRedis } from './redis.js'

const BULLMQ: Requirement = {
  what: 'the bullmq and ioredis packages',
  available: () => ['bullmq', 'ioredis'].every((name) => {
    try {
      createRequire(import.meta.url).resolve(name)
      return true
    } catch {
      return false
    }
  }),
  install: 'npm install -D bullmq ioredis',
}

function bullmq(config: string, workloads: Workload[], workerArgs: string[]): Contender {
  return {
    system: 'BullMQ',
    config,
    workloads,
    requires: [REDIS, BULLMQ],
    run: (plan: Plan) =>
      withRedis(async (port) => {
        const env = { BENCH_REDIS_PORT: String(port) }
        const [command, args] = tsNode(new URL('./bullmq-worker.ts', import.meta.url).href, ...workerArgs)
        const worker = await startProcess(`BullMQ worker (${config})`, command, args, { ready: /^ready$/m, env, cwd: root })
        try {
          const [client, clientArgs] = tsNode(new URL('./bullmq-client.ts', import.meta.url).href, JSON.stringify(plan))
          return await runJson<Measures>('BullMQ client', client, clientArgs, { env, cwd: root })
        } finally {
          await worker.stop()
        }
      }),
  }
}

/** BullMQ's configurations. */
export const bullmqContenders: Contender[] = [
  bullmq('concurrency 1 (1 in flight, its default)', ['throughput', 'roundTrip', 'enqueue', 'io', 'chord'], ['1']),
  bullmq('concurrency 50 (50 in flight)', ['throughput', 'roundTrip', 'io', 'chord'], ['50']),
  bullmq('concurrency 2', ['cpu'], ['2']),
  bullmq('concurrency 2, sandboxed threads', ['cpu'], ['2', 'sandboxed']),
]
