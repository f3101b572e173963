// What BullMQ's client and worker processes of the comparison bench share.
import type { ConnectionOptions } from 'bullmq'

/** The queue the workers consume. */
export const BULLMQ_QUEUE = 'bench'

/** Redis on 127.0.0.1, at the port the bench started it on. */
export function redisConnection(): ConnectionOptions {
  const port = Number(process.env.BENCH_REDIS_PORT)
  if (!Number.isInteger(port) || port <= 0) throw new Error(`BENCH_REDIS_PORT must be a port, got ${JSON.stringify(process.env.BENCH_REDIS_PORT)}`)
  return { host: '127.0.0.1', port }
}
