// Celery 5 in the comparison bench, on Redis (broker and result backend), with Debian's
// /usr/bin/python3: a worker with `-P solo` (one task at a time, in the worker process) and
// with `-P prefork -c 2` (two child processes). Each run gets a fresh Redis.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Contender, Requirement } from './contender.js'
import type { Measures, Plan, Workload } from './plan.js'
import { runJson, startProcess } from './processes.js'
import { REDIS, withRedis } from './redis.js'

/** The interpreter Debian's python3-celery is installed for. */
export const PYTHON = '/usr/bin/python3'
const dir = fileURLToPath(new URL('./celery/', import.meta.url))

const CELERY: Requirement = {
  what: `Celery 5 and redis-py for ${PYTHON}`,
  available: () => spawnSync(PYTHON, ['-c', 'import sys, celery, redis; sys.exit(celery.VERSION.major != 5)'], { stdio: 'ignore' }).status === 0,
  install: 'apt-get install -y python3-celery python3-redis',
}

function celery(config: string, workloads: Workload[], pool: string[]): Contender {
  return {
    system: 'Celery',
    config,
    workloads,
    requires: [REDIS, CELERY],
    run: (plan: Plan) =>
      withRedis(async (port) => {
        const env = { BENCH_REDIS_URL: `redis://127.0.0.1:${port}/0`, PYTHONPATH: dir }
        const args = ['-m', 'celery', '-A', 'tasks', 'worker', ...pool, '-l', 'info', '-n', 'bench@%h', '--without-gossip', '--without-mingle', '--without-heartbeat']
        const worker = await startProcess(`Celery worker (${config})`, PYTHON, args, { ready: / ready\.$/m, env, cwd: dir })
        try {
          return await runJson<Measures>('Celery client', PYTHON, ['client.py', JSON.stringify(plan)], { env, cwd: dir })
        } finally {
          await worker.stop()
        }
      }),
  }
}

/** Celery's configurations. */
export const celeryContenders: Contender[] = [
  celery('-P solo', ['throughput', 'roundTrip', 'enqueue', 'chord'], ['-P', 'solo']),
  celery('-P prefork -c 2', ['throughput', 'roundTrip', 'cpu', 'chord'], ['-P', 'prefork', '-c', '2']),
  // Celery's answer to I/O-bound tasks without gevent: a pool of 50 threads (50 in flight).
  celery('-P threads -c 50', ['io'], ['-P', 'threads', '-c', '50']),
]
