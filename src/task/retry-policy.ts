/**
 * When a task asks to run again: whether it may (`maxRetries`), and how long it waits.
 * @module
 */
import { MaxRetriesExceeded, Retry, type RetryOptions } from '../errors.js'
import { toMs } from '../util/duration.js'
import { backoffDelay } from './backoff.js'
import type { ResolvedTaskOptions } from './definition.js'
import type { TaskRequest } from './context.js'

/**
 * What a retry request becomes: a {@link Retry}, or, once the request's retries reach
 * `maxRetries` (the retry's own, else the task's; `null` = forever), the error the task fails
 * with: the retry's `exc` itself when one was given (Celery re-raises it; `autoretryFor` passes
 * the error it caught), else {@link MaxRetriesExceeded}. `auto` marks an `autoretryFor` retry,
 * whose delay comes from the task's backoff, not a countdown.
 */
export function retrySignal(options: RetryOptions, request: TaskRequest, resolved: ResolvedTaskOptions, auto = false): unknown {
  const maxRetries = options.maxRetries === undefined ? resolved.maxRetries : options.maxRetries
  if (maxRetries !== null && request.retries >= maxRetries) {
    if (options.exc !== undefined) return options.exc
    return new MaxRetriesExceeded(`${request.task}[${request.id}] gave up after ${request.retries} retries (maxRetries ${maxRetries})`)
  }
  return new Retry(auto ? { ...options, countdown: undefined } : options)
}

/** Milliseconds before the retry runs: its eta, else its countdown, else the task's backoff, else its default delay. */
export function retryDelay(options: RetryOptions, request: TaskRequest, resolved: ResolvedTaskOptions, now: number, random: () => number = Math.random): number {
  if (options.eta) return Math.max(0, options.eta.getTime() - now)
  if (options.countdown !== undefined) return toMs(options.countdown, 'retry countdown')
  if (resolved.retryBackoffMs > 0) return backoffDelay(resolved.retryBackoffMs, request.retries, resolved.retryBackoffMaxMs, resolved.retryJitter, random)
  return resolved.defaultRetryDelayMs
}
