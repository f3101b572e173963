/**
 * The port through which a worker node reports what happens to its tasks, for metrics and
 * traces (src/observability fills it). The node calls it only on events it already handles,
 * and holds none when observability is off, so the hot path then costs one `?.` per event.
 * @module
 */
import type { TaskHeaders } from '../protocol/envelope.js'
import type { WireError } from '../serialization/failure.js'
import type { Transport } from '../transport/transport.js'

/** The part of a task in flight an observer reads. */
export interface ObservedTask {
  readonly headers: TaskHeaders
  readonly delivery: { readonly queue: string; readonly publishedAt?: number; readonly deliveryCount: number }
}

/** How a task's run on this node ended. */
export type TaskEnd = 'succeeded' | 'failed' | 'retried' | 'revoked' | 'rejected' | 'ignored'

/** Why the pool replaced a thread. */
export type ThreadReplaceReason = 'time_limit' | 'terminated' | 'crash' | 'oom' | 'recycle'

/** What an observer reads of its node when asked (a scrape, a probe), never on the hot path. */
export interface ObservedNode {
  readonly hostname: string
  /** `running` while it consumes. */
  state(): string
  /** Tasks on threads. */
  active(): number
  /** Received and not on a thread yet (waiting for a slot or a rate limit). */
  prefetched(): number
  /** Waiting for a rate limit. */
  rateLimited(): number
  /** The names of the tasks the node can run (its metrics have a series for each from the start). */
  taskNames(): Iterable<string>
  threads(): number
  /** Threads running at least one task. */
  threadsBusy(): number
  /** Threads whose event loop a task holds (see ThreadHandle.held). */
  threadsHeld(): number
  /** Threads started and ready. */
  threadsUp(): number
  /** Queues consumed now, and whether each has an open consumer. */
  queues(): string[]
  consuming(queue: string): boolean
  /** The connected transport, once the node has one. */
  transport(): Transport | undefined
}

/** Receives a node's task events. Every method must be cheap and must not throw. */
export interface WorkerObserver {
  /** Taken from its queue and accepted here. `now` is the node's clock. */
  received(task: ObservedTask, now: number): void
  /** Handed to a thread. Returns the W3C `traceparent` the thread runs it under, if traced. */
  started(task: ObservedTask): string | undefined
  /** Its run here ended. `runtimeMs` when it ran; `error` when it failed or was retried. */
  ended(task: ObservedTask, end: TaskEnd, runtimeMs: number | undefined, error: WireError | Error | undefined): void
  /** Runs `fn` (what the node does with an outcome) in the task's trace context, so that what it sends belongs to the task's trace. */
  within<T>(task: ObservedTask, fn: () => T): T
  threadReplaced(reason: ThreadReplaceReason): void
  /** Extra fields for log lines about `task` (trace and span ids). */
  logFields(task: ObservedTask): Record<string, unknown> | undefined
  /** Stops serving (metrics and probe endpoints). */
  close(): Promise<void>
}
