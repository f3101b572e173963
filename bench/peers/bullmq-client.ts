// BullMQ's client in the comparison bench: runs the plan (argv[2], JSON) and prints its figures
// as JSON. Results come back as BullMQ users wait for them: `completed` events from QueueEvents
// (what `job.waitUntilFinished` listens to), carrying each job's return value.
import { FlowProducer, Queue, QueueEvents } from 'bullmq'
import { deferred, type Deferred } from '../../src/util/deferred.js'
import { drive, planFromArgv, type Driver } from './drive.js'
import { BULLMQ_QUEUE, redisConnection } from './bullmq-queue.js'

const plan = planFromArgv()
const connection = redisConnection()
// Room in the events stream for every job of a run, so that no completion is trimmed unread.
const queue = new Queue(BULLMQ_QUEUE, { connection, streams: { events: { maxLen: 4 * Math.max(plan.tasks, plan.chordSize) } } })
const idle = new Queue('bench-enqueue', { connection })
// Redis is fresh for each run: reading the events stream from its start misses nothing.
const events = new QueueEvents(BULLMQ_QUEUE, { connection, lastEventId: '0' })
const flows = new FlowProducer({ connection })
await Promise.all([queue.waitUntilReady(), idle.waitUntilReady(), events.waitUntilReady(), flows.waitUntilReady()])

const settled = new Map<string, { value?: unknown; error?: string }>()
const waiting = new Map<string, Deferred<unknown>>()
function settle(jobId: string, outcome: { value?: unknown; error?: string }): void {
  const waiter = waiting.get(jobId)
  if (!waiter) return void settled.set(jobId, outcome)
  waiting.delete(jobId)
  if (outcome.error === undefined) waiter.resolve(outcome.value)
  else waiter.reject(new Error(`job ${jobId} failed: ${outcome.error}`))
}
events.on('completed', ({ jobId, returnvalue }) => settle(jobId, { value: returnvalue }))
events.on('failed', ({ jobId, failedReason }) => settle(jobId, { error: failedReason }))

function completion(jobId: string): Promise<unknown> {
  const outcome = settled.get(jobId)
  if (outcome) {
    settled.delete(jobId)
    return outcome.error === undefined ? Promise.resolve(outcome.value) : Promise.reject(new Error(`job ${jobId} failed: ${outcome.error}`))
  }
  const waiter = deferred<unknown>()
  waiting.set(jobId, waiter)
  const timer = setTimeout(() => settle(jobId, { error: `no result within ${plan.timeoutS} s` }), plan.timeoutS * 1000)
  return waiter.promise.finally(() => clearTimeout(timer))
}

const driver: Driver<string> = {
  send: async (task, arg, ms) => (await queue.add(task, task === 'noop' ? { i: arg } : task === 'burn' ? { ms: arg } : { i: arg, ms })).id!,
  result: completion,
  enqueue: (i) => idle.add('noop', { i }),
  async chord(size) {
    const { job } = await flows.add({
      name: 'xsum',
      queueName: BULLMQ_QUEUE,
      children: Array.from({ length: size }, (_, i) => ({ name: 'noop', queueName: BULLMQ_QUEUE, data: { i } })),
    })
    return completion(job.id!)
  },
}
const measures = await drive(driver, plan)
await Promise.all([queue.close(), idle.close(), events.close(), flows.close()])
console.log(JSON.stringify(measures))
