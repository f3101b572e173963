import type { RetryOptions } from '../errors.js'
import type { Logger } from '../util/logger.js'

/** Where a message came from. */
export interface DeliveryInfo {
  exchange: string
  routingKey: string
  queue: string
  priority: number
  redelivered: boolean
}

/** What a running task knows about its call (Celery's `self.request`). */
export interface TaskRequest {
  id: string
  task: string
  args: readonly unknown[]
  kwargs: Readonly<Record<string, unknown>>
  retries: number
  /** The node running the task. */
  hostname: string
  rootId: string
  parentId?: string
  groupId?: string
  /** Scheduled time, if the task was sent with countdown or eta. */
  eta?: Date
  expires?: Date
  deliveryInfo: DeliveryInfo
  headers: Readonly<Record<string, unknown>>
  /** True when the task runs in the caller's process (`task.call()`), not in a worker. */
  isEager: boolean
}

/** A custom state update. */
export interface StateUpdate {
  /** A custom state name such as `'PROGRESS'`. */
  state: string
  /** Data for observers, e.g. `{ current: 3, total: 10 }`. */
  meta?: unknown
}

/** What a bound task can do: read its request, retry, report progress, honour its soft limit. */
export interface TaskContext {
  readonly name: string
  readonly request: TaskRequest
  /** Aborts when the soft time limit runs out (reason: SoftTimeLimitExceeded) or the task is revoked. */
  readonly signal: AbortSignal
  /** Ends this run and schedules another; throws, so nothing after it runs. */
  retry(options?: RetryOptions): never
  /** Publishes a custom state (such as PROGRESS) with meta on the task's state stream. */
  updateState(update: StateUpdate): void
  /**
   * The app's logger, whose lines carry this task's `id` and `task` name, and its `traceId` and
   * `spanId` when it is traced (Celery's `get_task_logger`).
   */
  readonly logger: Logger
}
