/**
 * A worker node's Prometheus metrics, in a registry of its own (two nodes in one process do
 * not clash). Counters move on events the node handles anyway; gauges and queue metrics are
 * read when scraped, so they cost nothing between scrapes.
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { ObservedNode, ObservedTask, TaskEnd, ThreadReplaceReason } from '../worker/worker-observer.js'
import type { Logger } from '../util/logger.js'
import type { QueueStats } from '../transport/transport.js'

const TASK_LABELS = ['task', 'queue'] as const
// Seconds: from a millisecond task to a five-minute one.
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
const QUEUE_STATES = ['ready', 'in_flight', 'delayed', 'dead'] as const

type Labels = 'task' | 'queue'

/** The children of every per-task metric for one (task, queue) pair, made once. */
interface TaskSeries {
  received: Counter.Internal
  redelivered: Counter.Internal
  started: Counter.Internal
  ends: Record<TaskEnd, Counter.Internal>
  runtime: Histogram.Internal<Labels>
  wait: Histogram.Internal<Labels>
}

/** The metric set of one worker node. */
export class WorkerMetrics {
  readonly registry = new Registry()
  readonly #node: ObservedNode
  readonly #logger: Logger
  readonly #series = new Map<string, Map<string, TaskSeries>>()
  readonly #counters: Record<'received' | 'redelivered' | 'started' | TaskEnd, Counter<Labels>>
  readonly #runtime: Histogram<Labels>
  readonly #wait: Histogram<Labels>
  readonly #replaced: Counter<'reason'>
  readonly #extraQueues: readonly string[]
  #reading: Promise<[string, QueueStats][]> | undefined

  constructor(node: ObservedNode, options: { hostnameLabel: boolean; queues?: readonly string[] }, logger: Logger) {
    this.#node = node
    this.#extraQueues = options.queues ?? []
    this.#logger = logger
    const registers = [this.registry]
    if (options.hostnameLabel) this.registry.setDefaultLabels({ hostname: node.hostname })
    const counter = (name: string, help: string) => new Counter({ name: `celeriac_tasks_${name}_total`, help, labelNames: TASK_LABELS, registers })
    this.#counters = {
      received: counter('received', 'Tasks received from a queue'),
      redelivered: counter('redelivered', 'Tasks received again after a delivery that was not settled (a lost worker, an ack wait that ran out)'),
      started: counter('started', 'Tasks handed to a worker thread'),
      succeeded: counter('succeeded', 'Tasks that succeeded'),
      failed: counter('failed', 'Tasks that failed (including time limits and lost threads)'),
      retried: counter('retried', 'Task runs that ended in a retry'),
      revoked: counter('revoked', 'Tasks revoked or expired'),
      rejected: counter('rejected', 'Tasks that rejected themselves (Reject)'),
      ignored: counter('ignored', 'Tasks that ignored themselves (Ignore)'),
    }
    this.#runtime = new Histogram({ name: 'celeriac_task_runtime_seconds', help: 'How long task runs took on their thread', labelNames: TASK_LABELS, buckets: BUCKETS, registers })
    this.#wait = new Histogram({ name: 'celeriac_task_queue_wait_seconds', help: 'From when a task became ready in its queue to when a worker received it', labelNames: TASK_LABELS, buckets: BUCKETS, registers })
    this.#replaced = new Counter({ name: 'celeriac_worker_threads_replaced_total', help: 'Worker threads replaced, by reason (time_limit, terminated, crash, oom, recycle)', labelNames: ['reason'], registers })
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers, collect() {
        this.set(read())
      } })
    gauge('celeriac_worker_tasks_active', 'Tasks running on worker threads', () => node.active())
    gauge('celeriac_worker_tasks_prefetched', 'Tasks received and not on a thread yet', () => node.prefetched())
    gauge('celeriac_worker_tasks_rate_limited', 'Received tasks waiting for their rate limit', () => node.rateLimited())
    gauge('celeriac_worker_threads', 'Worker threads in the pool', () => node.threads())
    gauge('celeriac_worker_threads_busy', 'Worker threads running at least one task', () => node.threadsBusy())
    const metrics = this
    // prom-client collects every metric of a scrape at once: both read one round of stats.
    new Gauge({ name: 'celeriac_queue_messages', help: 'Messages in a queue, by state (ready, in_flight, delayed, dead), read from the broker when scraped', labelNames: ['queue', 'state'], registers, async collect() {
      this.reset()
      for (const [queue, stats] of await metrics.#queueStats()) QUEUE_STATES.forEach((state, j) => this.set({ queue, state }, [stats.ready, stats.inFlight, stats.delayed, stats.dead][j]))
    } })
    new Gauge({ name: 'celeriac_queue_oldest_message_age_seconds', help: 'Age of the oldest ready message of a queue, read from the broker when scraped', labelNames: ['queue'], registers, async collect() {
      this.reset()
      for (const [queue, stats] of await metrics.#queueStats()) this.set({ queue }, stats.oldestAgeMs / 1000)
    } })
    collectDefaultMetrics({ register: this.registry })
  }

  /** Prometheus text for a scrape. */
  scrape(): Promise<string> {
    return this.registry.metrics()
  }

  received(task: ObservedTask, now: number): void {
    const series = this.#of(task)
    series.received.inc()
    const { publishedAt, deliveryCount } = task.delivery
    if (deliveryCount > 1) series.redelivered.inc()
    else if (publishedAt !== undefined) series.wait.observe(Math.max(0, now - publishedAt) / 1000)
  }

  started(task: ObservedTask): void {
    this.#of(task).started.inc()
  }

  ended(task: ObservedTask, end: TaskEnd, runtimeMs: number | undefined): void {
    const series = this.#of(task)
    series.ends[end].inc()
    if (runtimeMs !== undefined) series.runtime.observe(runtimeMs / 1000)
  }

  threadReplaced(reason: ThreadReplaceReason): void {
    this.#replaced.inc({ reason })
  }

  #of(task: ObservedTask): TaskSeries {
    const name = task.headers.task
    const queue = task.delivery.queue
    let byQueue = this.#series.get(name)
    if (byQueue === undefined) this.#series.set(name, (byQueue = new Map()))
    let series = byQueue.get(queue)
    if (series === undefined) {
      const c = this.#counters
      series = {
        received: c.received.labels(name, queue),
        redelivered: c.redelivered.labels(name, queue),
        started: c.started.labels(name, queue),
        ends: { succeeded: c.succeeded.labels(name, queue), failed: c.failed.labels(name, queue), retried: c.retried.labels(name, queue), revoked: c.revoked.labels(name, queue), rejected: c.rejected.labels(name, queue), ignored: c.ignored.labels(name, queue) },
        runtime: this.#runtime.labels(name, queue),
        wait: this.#wait.labels(name, queue),
      }
      // Every series exists from the first task on, at 0, so that rate() and alerts see it.
      for (const counter of [series.received, series.redelivered, series.started, ...Object.values(series.ends)]) counter.inc(0)
      byQueue.set(queue, series)
    }
    return series
  }

  /** The stats of every reported queue, read once per scrape; a queue that cannot be read is left out. */
  #queueStats(): Promise<[string, QueueStats][]> {
    this.#reading ??= this.#readQueues().finally(() => (this.#reading = undefined))
    return this.#reading
  }

  async #readQueues(): Promise<[string, QueueStats][]> {
    const transport = this.#node.transport()
    if (transport?.queueStats === undefined) return []
    const queues = [...new Set([...this.#node.queues(), ...this.#extraQueues])]
    const results = await Promise.allSettled(queues.map((queue) => transport.queueStats!(queue)))
    const read: [string, QueueStats][] = []
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') read.push([queues[i], result.value])
      else this.#logger.debug('could not read queue stats for metrics', { queue: queues[i], error: result.reason })
    })
    return read
  }
}
