/**
 * Puts together what a worker node's options ask for: metrics, traces, probes. Loaded by the
 * node only when one of them is on, and each part loads its library only when asked for.
 * @module
 */
import { serveEndpoint, type Endpoint } from './http-endpoint.js'
import { liveness, readiness } from './health.js'
import { loadOtel } from './otel.js'
import type { ObservedNode, ObservedTask, TaskEnd, ThreadReplaceReason, WorkerObserver } from '../worker/worker-observer.js'
import type { HealthOptions, MetricsOptions } from '../worker/worker-options.js'
import type { WireError } from '../serialization/failure.js'
import type { Logger } from '../util/logger.js'
import type { WorkerMetrics } from './metrics.js'
import type { WorkerTracing } from './tracing.js'

/** What {@link observeWorker} started. */
export interface Observing {
  /** Undefined when neither metrics nor traces are on. */
  observer: WorkerObserver | undefined
  endpoints: { metrics?: string; health?: string }
  close(): Promise<void>
}

/** What to start. */
export interface ObserveOptions {
  metrics: Required<MetricsOptions> | undefined
  health: Required<HealthOptions> | undefined
  tracing: boolean
}

/** Starts the endpoints and observers `options` ask for; on a failure closes what it started. */
export async function observeWorker(node: ObservedNode, options: ObserveOptions, logger: Logger): Promise<Observing> {
  const served: Endpoint[] = []
  const endpoints: Observing['endpoints'] = {}
  try {
    let metrics: WorkerMetrics | undefined
    if (options.metrics) {
      const { WorkerMetrics } = await import('./metrics.js')
      const m = (metrics = new WorkerMetrics(node, options.metrics, logger))
      const endpoint = await serveEndpoint(options.metrics.port, options.metrics.host, {
        '/metrics': async () => ({ status: 200, contentType: m.registry.contentType, body: await m.scrape() }),
      })
      served.push(endpoint)
      endpoints.metrics = `${endpoint.url}/metrics`
    }
    let tracing: WorkerTracing | undefined
    const api = options.tracing ? await loadOtel() : null
    if (api) {
      const { WorkerTracing } = await import('./tracing.js')
      tracing = new WorkerTracing(api)
    }
    if (options.health) {
      const endpoint = await serveEndpoint(options.health.port, options.health.host, {
        '/livez': () => liveness(node),
        '/readyz': () => readiness(node),
      })
      served.push(endpoint)
      endpoints.health = endpoint.url
    }
    const observer = metrics || tracing ? new Observers(metrics, tracing) : undefined
    return { observer, endpoints, close: () => closeAll(served) }
  } catch (error) {
    await closeAll(served)
    throw error
  }
}

function closeAll(served: Endpoint[]): Promise<void> {
  return Promise.all(served.splice(0).map((endpoint) => endpoint.close())).then(() => undefined)
}

/** Metrics and traces behind the one port the node calls. */
class Observers implements WorkerObserver {
  readonly #metrics: WorkerMetrics | undefined
  readonly #tracing: WorkerTracing | undefined

  constructor(metrics: WorkerMetrics | undefined, tracing: WorkerTracing | undefined) {
    this.#metrics = metrics
    this.#tracing = tracing
  }

  received(task: ObservedTask, now: number): void {
    this.#metrics?.received(task, now)
  }

  started(task: ObservedTask): string | undefined {
    this.#metrics?.started(task)
    return this.#tracing?.started(task)
  }

  ended(task: ObservedTask, end: TaskEnd, runtimeMs: number | undefined, error: WireError | Error | undefined): void {
    this.#metrics?.ended(task, end, runtimeMs)
    this.#tracing?.ended(task, end, error)
  }

  within<T>(task: ObservedTask, fn: () => T): T {
    return this.#tracing ? this.#tracing.within(task, fn) : fn()
  }

  threadReplaced(reason: ThreadReplaceReason): void {
    this.#metrics?.threadReplaced(reason)
  }

  logFields(task: ObservedTask): Record<string, unknown> | undefined {
    return this.#tracing?.logFields(task)
  }

  async close(): Promise<void> {}
}
