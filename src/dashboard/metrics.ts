/**
 * The dashboard's `/metrics`: cluster-wide counters aggregated from task events and gauges
 * from heartbeats and the broker, in Prometheus text, with the names of the observability
 * issue (a worker's own `/metrics` uses the same ones). Counters only grow from events; no
 * value is derived from stored tasks.
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { CeleriacEvent } from '../events/events.js'
import type { DashboardState, TaskRow } from './state.js'
import type { QueueRow } from './queue-stats.js'
import { DURATION_BUCKETS } from '../observability/buckets.js'

/** How long a scrape waits for the broker's queue figures, ms: well inside Prometheus's default scrape_timeout (10 s). */
const QUEUE_READ_MS = 3_000

const COUNTED = {
  'task-received': 'received',
  'task-started': 'started',
  'task-succeeded': 'succeeded',
  'task-failed': 'failed',
  'task-retried': 'retried',
  'task-revoked': 'revoked',
  'task-rejected': 'rejected',
} as const
type Counted = (typeof COUNTED)[keyof typeof COUNTED]

/** The dashboard's metric registry, fed by {@link DashboardMetrics.observe}. */
export class DashboardMetrics {
  readonly registry = new Registry()
  readonly #counters: Record<Counted, Counter<'task' | 'queue'>>
  readonly #runtime: Histogram<'task' | 'queue'>
  readonly #wait: Histogram<'task' | 'queue'>

  /**
   * @param state whose workers the worker gauges read at scrape time
   * @param queues reads the broker's queue figures at scrape time
   */
  constructor(state: DashboardState, queues: () => Promise<QueueRow[]>) {
    const registers = [this.registry]
    const labelNames = ['task', 'queue'] as const
    this.#counters = Object.fromEntries(Object.values(COUNTED).map((what) => [
      what,
      new Counter({ name: `celeriac_tasks_${what}_total`, help: `Tasks ${what}, from task events`, labelNames, registers }),
    ])) as Record<Counted, Counter<'task' | 'queue'>>
    // The workers' buckets. From events, the runtime is only succeeded tasks' (a failure's event
    // carries none), and the wait counts from the task-sent event (docs/observability.md).
    const buckets = [...DURATION_BUCKETS]
    this.#runtime = new Histogram({ name: 'celeriac_task_runtime_seconds', help: 'Run time of succeeded tasks (from task events)', labelNames, buckets, registers })
    this.#wait = new Histogram({ name: 'celeriac_task_queue_wait_seconds', help: 'Time from sent to received (needs task-sent events)', labelNames, buckets, registers })
    new Gauge({
      name: 'celeriac_worker_tasks_active', help: 'Tasks running on the threads of each online node (last heartbeat)', labelNames: ['hostname'], registers,
      collect() {
        this.reset()
        for (const worker of state.workerList()) if (worker.status === 'online') this.set({ hostname: worker.hostname }, worker.active)
      },
    })
    new Gauge({
      name: 'celeriac_worker_online', help: '1 for each node heard from within two heartbeats, 0 for one gone', labelNames: ['hostname'], registers,
      collect() {
        this.reset()
        for (const worker of state.workerList()) this.set({ hostname: worker.hostname }, worker.status === 'online' ? 1 : 0)
      },
    })
    new Gauge({
      name: 'celeriac_dashboard_broker_connected', help: '1 while the dashboard hears the broker; at 0 the worker gauges hold what was last heard', registers,
      collect() {
        this.set(state.broker.connected ? 1 : 0)
      },
    })
    let lastQueues: Promise<QueueRow[]> | undefined
    // Within a scrape's time: with the broker out of reach each read waits seconds, and the
    // whole scrape, worker_online with it, failed just when it mattered. The queue gauges are
    // left out of that scrape instead.
    const deadline = () => new Promise<QueueRow[]>((resolve) => setTimeout(() => resolve([]), QUEUE_READ_MS).unref())
    const readQueues = () => (lastQueues ??= Promise.race([queues(), deadline()]).catch(() => [] as QueueRow[]).finally(() => setTimeout(() => (lastQueues = undefined), 1000).unref()))
    new Gauge({
      name: 'celeriac_queue_messages', help: 'Messages of each queue by state (ready, in_flight, delayed, dead), from the broker', labelNames: ['queue', 'state'], registers,
      async collect() {
        this.reset()
        for (const q of await readQueues()) {
          this.set({ queue: q.name, state: 'ready' }, q.ready)
          if (q.inFlight !== null) this.set({ queue: q.name, state: 'in_flight' }, q.inFlight)
          if (q.delayed !== null) this.set({ queue: q.name, state: 'delayed' }, q.delayed)
          this.set({ queue: q.name, state: 'dead' }, q.deadLetters)
        }
      },
    })
    new Gauge({
      name: 'celeriac_queue_oldest_message_age_seconds', help: 'Age of the oldest ready message in each queue, from the broker', labelNames: ['queue'], registers,
      async collect() {
        this.reset()
        for (const q of await readQueues()) if (q.oldestAgeSeconds !== null) this.set({ queue: q.name }, q.oldestAgeSeconds)
      },
    })
    collectDefaultMetrics({ register: this.registry })
  }

  /** Counts one event against its task's name and queue (`row` is the task after the event). */
  observe(event: CeleriacEvent, row: TaskRow | undefined): void {
    if (row === undefined) return
    const labels = { task: row.name ?? 'unknown', queue: row.queue ?? '' }
    // Events come from several processes: a task-sent may come after its task-received (not a
    // retry's, which is sent after the attempt before it was received).
    if (event.type === 'task-sent' && row.received !== undefined && row.received >= event.timestamp) this.#wait.observe(labels, (row.received - event.timestamp) / 1000)
    if (!(event.type in COUNTED)) return
    this.#counters[COUNTED[event.type as keyof typeof COUNTED]].inc(labels)
    if (event.type === 'task-succeeded') this.#runtime.observe(labels, event.runtime)
    if (event.type === 'task-received' && row.sent !== undefined) this.#wait.observe(labels, Math.max(0, event.timestamp - row.sent) / 1000)
  }

  /** The registry as Prometheus text. */
  text(): Promise<string> {
    return this.registry.metrics()
  }
}
