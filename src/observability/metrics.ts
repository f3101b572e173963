/**
 * A worker node's Prometheus metrics, in a registry of its own (two nodes in one process do
 * not clash). Per-task counters and histograms are plain numbers the node's events add to,
 * turned into Prometheus series only when scraped; gauges and queue metrics are read when
 * scraped too, so nothing costs more than an addition between scrapes.
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client'
import type { ObservedNode, ObservedTask, TaskEnd, ThreadReplaceReason } from '../worker/worker-observer.js'
import type { Logger } from '../util/logger.js'
import type { QueueStats } from '../transport/transport.js'
import { DURATION_BUCKETS } from './buckets.js'

const REPLACE_REASONS: readonly ThreadReplaceReason[] = ['time_limit', 'terminated', 'crash', 'oom', 'recycle']

const BUCKETS = DURATION_BUCKETS
const LE = BUCKETS.map(String)
const QUEUE_STATES = ['ready', 'in_flight', 'delayed', 'dead'] as const
const COUNTERS = ['received', 'redelivered', 'started', 'succeeded', 'failed', 'retried', 'revoked', 'rejected', 'ignored'] as const
type CounterName = (typeof COUNTERS)[number]

/** Observations of one histogram series: per-bucket (not cumulative) counts, sum and count. */
class Observations {
  readonly buckets = new Float64Array(BUCKETS.length)
  sum = 0
  count = 0

  observe(value: number): void {
    let i = 0
    while (i < BUCKETS.length && value > BUCKETS[i]) i++
    if (i < BUCKETS.length) this.buckets[i]++
    this.sum += value
    this.count++
  }
}

/**
 * Every per-task figure of one (task, queue) pair, as plain numbers: the hot path adds to a
 * field, where a prom-client child would hash its labels on every call. A scrape reads them.
 */
class TaskSeries implements Record<CounterName, number> {
  readonly labels: { task: string; queue: string }
  received = 0
  redelivered = 0
  started = 0
  succeeded = 0
  failed = 0
  retried = 0
  revoked = 0
  rejected = 0
  ignored = 0
  readonly runtime = new Observations()
  readonly wait = new Observations()

  constructor(task: string, queue: string) {
    this.labels = { task, queue }
  }
}

const HELP: Record<CounterName, string> = {
  received: 'Tasks received from a queue',
  redelivered: 'Tasks received again after a delivery that was not settled (a lost worker, an ack wait that ran out)',
  started: 'Tasks handed to a worker thread',
  succeeded: 'Tasks that succeeded',
  failed: 'Tasks that failed (including time limits and lost threads)',
  retried: 'Task runs that ended in a retry',
  revoked: 'Tasks revoked or expired',
  rejected: 'Tasks that rejected themselves (Reject)',
  ignored: 'Tasks that ignored themselves (Ignore)',
}

/** A metric prom-client's registry formats: what its `get()` returns. */
interface MetricValues {
  name: string
  help: string
  type: 'counter' | 'histogram'
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[]
  aggregator: 'sum'
}

/** A metric read from the series at scrape time, in the shape prom-client's registry takes. */
function seriesMetric(name: string, help: string, type: MetricValues['type'], read: () => MetricValues['values']) {
  return { name, help, type, aggregator: 'sum' as const, get: (): MetricValues => ({ name, help, type, values: read(), aggregator: 'sum' }), reset: () => undefined }
}

/** The metric set of one worker node. */
export class WorkerMetrics {
  readonly registry = new Registry()
  readonly #node: ObservedNode
  readonly #logger: Logger
  readonly #series = new Map<string, Map<string, TaskSeries>>()
  readonly #replaced: Counter<'reason'>
  readonly #extraQueues: readonly string[]
  #reading: Promise<[string, QueueStats][]> | undefined

  constructor(node: ObservedNode, options: { hostnameLabel: boolean; queues?: readonly string[] }, logger: Logger) {
    this.#node = node
    this.#extraQueues = options.queues ?? []
    this.#logger = logger
    const registers = [this.registry]
    if (options.hostnameLabel) this.registry.setDefaultLabels({ hostname: node.hostname })
    const all = () => [...this.#series.values()].flatMap((byQueue) => [...byQueue.values()])
    for (const counter of COUNTERS) {
      const metric = seriesMetric(`celeriac_tasks_${counter}_total`, HELP[counter], 'counter', () => all().map((series) => ({ labels: series.labels, value: series[counter] })))
      this.registry.registerMetric(metric as unknown as Metric)
    }
    const histogram = (name: string, help: string, pick: (series: TaskSeries) => Observations) => {
      const metric = seriesMetric(name, help, 'histogram', () => all().flatMap((series) => histogramValues(name, series.labels, pick(series))))
      this.registry.registerMetric(metric as unknown as Metric)
    }
    histogram('celeriac_task_runtime_seconds', 'How long task runs took on their thread', (series) => series.runtime)
    histogram('celeriac_task_queue_wait_seconds', 'From when a task became ready in its queue to when a worker received it (first deliveries)', (series) => series.wait)
    this.#replaced = new Counter({ name: 'celeriac_worker_threads_replaced_total', help: 'Worker threads replaced, by reason (time_limit, terminated, crash, oom, recycle)', labelNames: ['reason'], registers })
    // Every reason from 0 at start: increase() sees the first crash after a restart, which a
    // series born at 1 would hide.
    for (const reason of REPLACE_REASONS) this.#replaced.inc({ reason }, 0)
    // Likewise a series for every task the node can run on every queue it consumes, at 0 from
    // the start: a task's first failure is a step up that rate() and increase() can see.
    for (const name of node.taskNames()) for (const queue of node.queues()) this.#seriesOf(name, queue)
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers, collect() {
        this.set(read())
      } })
    gauge('celeriac_worker_tasks_active', 'Tasks running on worker threads', () => node.active())
    gauge('celeriac_worker_tasks_prefetched', 'Tasks received and not on a thread yet', () => node.prefetched())
    gauge('celeriac_worker_tasks_rate_limited', 'Received tasks waiting for their rate limit', () => node.rateLimited())
    gauge('celeriac_worker_threads', 'Worker threads in the pool', () => node.threads())
    gauge('celeriac_worker_threads_busy', 'Worker threads running at least one task', () => node.threadsBusy())
    gauge('celeriac_worker_threads_held', 'Worker threads whose event loop a task has held for over 50 ms (CPU-bound or synchronous); they get no new tasks meanwhile', () => node.threadsHeld())
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
    series.received++
    const { publishedAt, deliveryCount } = task.delivery
    if (deliveryCount > 1) series.redelivered++
    else if (publishedAt !== undefined) series.wait.observe(Math.max(0, now - publishedAt) / 1000)
  }

  started(task: ObservedTask): void {
    this.#of(task).started++
  }

  ended(task: ObservedTask, end: TaskEnd, runtimeMs: number | undefined): void {
    const series = this.#of(task)
    series[end]++
    if (runtimeMs !== undefined) series.runtime.observe(runtimeMs / 1000)
  }

  threadReplaced(reason: ThreadReplaceReason): void {
    this.#replaced.inc({ reason })
  }

  #of(task: ObservedTask): TaskSeries {
    return this.#seriesOf(task.headers.task, task.delivery.queue)
  }

  /** The series of task `name` on `queue`, made at 0 the first time it is asked for. */
  #seriesOf(name: string, queue: string): TaskSeries {
    let byQueue = this.#series.get(name)
    if (byQueue === undefined) this.#series.set(name, (byQueue = new Map()))
    let series = byQueue.get(queue)
    if (series === undefined) byQueue.set(queue, (series = new TaskSeries(name, queue)))
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

/** A histogram series as Prometheus exposes it: cumulative buckets up to +Inf, then sum and count. */
function histogramValues(name: string, labels: { task: string; queue: string }, observations: Observations): MetricValues['values'] {
  const values: MetricValues['values'] = []
  let cumulative = 0
  for (let i = 0; i < BUCKETS.length; i++) {
    cumulative += observations.buckets[i]
    values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: LE[i] }, value: cumulative })
  }
  values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: observations.count })
  values.push({ metricName: `${name}_sum`, labels, value: observations.sum })
  values.push({ metricName: `${name}_count`, labels, value: observations.count })
  return values
}
