import { TaskIgnoredError, TaskRejectedError } from '../errors.js'
import { newTaskId } from '../util/ids.js'
import { systemClock, type Clock } from '../util/clock.js'
import { runnableTask, runTask, type RunOutcome, type RunPort } from './run-task.js'
import type { ResolvedTaskOptions, TaskDefinition } from './definition.js'
import type { StateUpdate, TaskRequest } from './context.js'
import type { Logger } from '../util/logger.js'

/** Options of an eager run. */
export interface EagerOptions {
  /** Drives the soft time limit. @default the system clock */
  clock?: Clock
  /** Receives each custom state the task reports with `updateState`, once validated (an eager run has no backend). */
  onUpdate?: (update: StateUpdate, request: TaskRequest) => void
  /** Where a handler that threw is reported; a whole Logger (the app's) is also where `ctx.logger` writes. @default console.error */
  logger?: Pick<Logger, 'error'> | Logger
  /** The run's task id. @default a new one */
  taskId?: string
}

type Settle = (outcome: RunOutcome) => void

/**
 * Runs a task in this thread, now, without a message (Celery's `add(2, 2)`), through the same
 * runner as a worker thread: the argument count is checked (unless `typing` is off), the
 * handlers run, `updateState` goes to `options.onUpdate`, the soft time limit aborts the
 * task's signal. The request says `isEager`. Kwargs bind by parameter name (task/arity.ts).
 *
 * A retry (`ctx.retry()`, a thrown Retry, an `autoretryFor` error) runs the task again at once,
 * in this process, with `retries + 1`, as Celery's eager mode does: the countdown, eta and
 * backoff are ignored. Once `maxRetries` is used up the run fails with the retry's
 * `exc` (the error `autoretryFor` caught), or MaxRetriesExceeded when it gave none.
 * Resolves to the result; rejects with the task's error, TaskRejectedError (Reject) or
 * TaskIgnoredError (Ignore). The hard time limit needs a thread to terminate: not applied here.
 */
export async function runEager(definition: TaskDefinition, resolved: ResolvedTaskOptions, args: readonly unknown[], kwargs?: Record<string, unknown>, options: EagerOptions = {}): Promise<unknown> {
  const id = options.taskId ?? newTaskId()
  const port: RunPort<Settle> = {
    clock: options.clock ?? systemClock,
    settle: (settle, outcome) => settle(outcome),
    update: (_, state, meta, request) => options.onUpdate?.(meta === undefined ? { state } : { state, meta }, request),
    ...(isLogger(options.logger) ? { logger: options.logger } : {}),
    handlerFailed: (request, error) => {
      if (options.logger) options.logger.error(`handler of ${request.task}[${request.id}] failed`, { error })
      else console.error(`celeriac: handler of ${request.task}[${request.id}] failed:`, error)
    },
  }
  const task = runnableTask(definition, resolved)
  for (let retries = 0; ; retries++) {
    const request = eagerRequest(definition.name, id, args, kwargs, retries)
    const outcome = await new Promise<RunOutcome>((settle) => runTask(port, task, request, settle, args, kwargs, resolved.softTimeLimitMs))
    switch (outcome.kind) {
      case 'success':
        return outcome.result
      case 'retry':
        continue
      case 'reject':
        throw new TaskRejectedError(outcome.reason)
      case 'ignore':
        throw new TaskIgnoredError(`task ${id} ended IGNORED without a result`)
      case 'failure':
        throw outcome.error
    }
  }
}

function isLogger(logger: Pick<Logger, 'error'> | Logger | undefined): logger is Logger {
  return logger !== undefined && typeof (logger as Logger).info === 'function' && typeof (logger as Logger).warn === 'function' && typeof (logger as Logger).debug === 'function'
}

function eagerRequest(name: string, id: string, args: readonly unknown[], kwargs: Record<string, unknown> | undefined, retries: number): TaskRequest {
  return {
    id, task: name, args, kwargs: kwargs ?? {}, retries, hostname: '', rootId: id, headers: {}, isEager: true,
    deliveryInfo: { exchange: '', routingKey: '', queue: '', priority: 0, redelivered: false },
  }
}
