// BullMQ's worker process in the comparison bench: `bullmq-worker.ts <concurrency> [sandboxed]`,
// Redis on 127.0.0.1:$BENCH_REDIS_PORT. Prints "ready" once it consumes; TERM closes it.
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker, type Job } from 'bullmq'
import { burn } from '../fixtures/burn.js'
import { BULLMQ_QUEUE, redisConnection } from './bullmq-queue.js'

const [concurrency, mode] = process.argv.slice(2)

async function processor(job: Job): Promise<number> {
  switch (job.name) {
    case 'noop':
      return job.data.i
    case 'burn':
      return burn(job.data.ms)
    case 'sleep':
      await sleep(job.data.ms)
      return job.data.i
    case 'xsum':
      return Object.values(await job.getChildrenValues<number>()).reduce((sum, v) => sum + v, 0)
    default:
      throw new Error(`unknown job ${job.name}`)
  }
}

const options = { connection: redisConnection(), concurrency: Number(concurrency) }
// Sandboxed: BullMQ's answer to CPU-bound jobs, each job in one of its worker threads.
const worker = mode === 'sandboxed'
  ? new Worker(BULLMQ_QUEUE, new URL('./bullmq-burn.mjs', import.meta.url), { ...options, useWorkerThreads: true })
  : new Worker(BULLMQ_QUEUE, processor, options)
worker.on('error', (error) => console.error(error))
await worker.waitUntilReady()
console.log('ready')
process.once('SIGTERM', () => {
  void worker.close().then(() => process.exit(0))
})
