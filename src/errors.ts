/**
 * Every error celeriac raises, and the signals a task throws to ask for a state change.
 *
 * Errors cross threads and the wire as plain {@link WireError} shapes (see
 * `serialization/failure.ts`); across a boundary, check `code`, not `instanceof`.
 * @module
 */

/** Error codes, one per condition. */
export const ErrorCode = {
  Config: 'ERR_CONFIG',
  InvalidArgument: 'ERR_INVALID_ARGUMENT',
  NotRegistered: 'ERR_NOT_REGISTERED',
  Serialization: 'ERR_SERIALIZATION',
  Transport: 'ERR_TRANSPORT',
  Backend: 'ERR_BACKEND',
  Timeout: 'ERR_TIMEOUT',
  TimeLimitExceeded: 'ERR_TIME_LIMIT_EXCEEDED',
  SoftTimeLimitExceeded: 'ERR_SOFT_TIME_LIMIT_EXCEEDED',
  WorkerLost: 'ERR_WORKER_LOST',
  MaxRetriesExceeded: 'ERR_MAX_RETRIES_EXCEEDED',
  TaskRevoked: 'ERR_TASK_REVOKED',
  TaskRejected: 'ERR_TASK_REJECTED',
  TaskIgnored: 'ERR_TASK_IGNORED',
  ChordError: 'ERR_CHORD',
  Remote: 'ERR_REMOTE',
  Permission: 'ERR_PERMISSION',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Options every celeriac error accepts. */
export interface CeleriacErrorOptions extends ErrorOptions {
  /** Structured detail that travels with the error. */
  data?: unknown
}

/** The base class of every error celeriac raises. */
export class CeleriacError extends Error {
  override name = 'CeleriacError'
  readonly code: string
  readonly data?: unknown

  constructor(code: string, message: string, options?: CeleriacErrorOptions) {
    super(message, options)
    this.code = code
    if (options?.data !== undefined) this.data = options.data
  }
}

function family<const C extends ErrorCode>(name: string, code: C) {
  // Names are set explicitly: constructor.name does not survive minifiers.
  return class extends CeleriacError {
    /** This class's own code, so that `switch (error.code)` narrows. */
    declare readonly code: C
    override name = name
    constructor(message: string, options?: CeleriacErrorOptions) {
      super(code, message, options)
    }
  }
}

/** Bad configuration: an unknown key or a value of the wrong kind. */
export class ConfigError extends family('ConfigError', ErrorCode.Config) {}
/** A call with arguments that cannot work (wrong arity, bad option). */
export class InvalidArgumentError extends family('InvalidArgumentError', ErrorCode.InvalidArgument) {}
/** A task name no registry knows. */
export class NotRegistered extends family('NotRegistered', ErrorCode.NotRegistered) {}
/** A value that cannot be encoded, or bytes that cannot be decoded. */
export class SerializationError extends family('SerializationError', ErrorCode.Serialization) {}
/** The broker failed or refused. */
export class TransportError extends family('TransportError', ErrorCode.Transport) {}
/**
 * The broker's server refused an operation to this connection's user: a NATS permissions
 * violation. `subject` is what it refused, `operation` whether to publish or to subscribe.
 */
export class PermissionError extends CeleriacError {
  override name = 'PermissionError'
  constructor(
    message: string,
    readonly operation: 'publish' | 'subscribe',
    readonly subject: string,
    options?: CeleriacErrorOptions,
  ) {
    super(ErrorCode.Permission, message, options)
  }
}
/** The result backend failed or refused. */
export class BackendError extends family('BackendError', ErrorCode.Backend) {}
/** Waiting for a result took longer than asked. */
export class TimeoutError extends family('TimeoutError', ErrorCode.Timeout) {}
/** The hard time limit ran out; the thread running the task was terminated. */
export class TimeLimitExceeded extends family('TimeLimitExceeded', ErrorCode.TimeLimitExceeded) {}
/** The soft time limit ran out: the reason of the task's aborted `signal`. */
export class SoftTimeLimitExceeded extends family('SoftTimeLimitExceeded', ErrorCode.SoftTimeLimitExceeded) {}
/** The thread (or node) running the task died before it finished. */
export class WorkerLostError extends family('WorkerLostError', ErrorCode.WorkerLost) {}
/**
 * The task asked to retry more often than `maxRetries` allows, without saying why: a retry
 * given an `exc` (`ctx.retry({ exc })`, `autoretryFor`) fails with that `exc` instead, as
 * Celery re-raises it.
 */
export class MaxRetriesExceeded extends family('MaxRetriesExceeded', ErrorCode.MaxRetriesExceeded) {}
/** The task was revoked (or expired) and will not run. */
export class TaskRevokedError extends family('TaskRevokedError', ErrorCode.TaskRevoked) {}
/** The task was rejected with `Reject` and will not run again. */
export class TaskRejectedError extends family('TaskRejectedError', ErrorCode.TaskRejected) {}
/** The task raised `Ignore`: it has no result and never will. */
export class TaskIgnoredError extends family('TaskIgnoredError', ErrorCode.TaskIgnored) {}
/** A chord member failed, so the chord body never runs. */
export class ChordError extends family('ChordError', ErrorCode.ChordError) {}

/**
 * An error raised by a task whose class is unknown on this side: it keeps the remote
 * class `name`, `code`, `message`, `data` and the remote `stack`.
 */
export class RemoteError extends CeleriacError {
  override name: string
  constructor(name: string, code: string, message: string, options?: CeleriacErrorOptions) {
    super(code, message, options)
    this.name = name
  }
}

/** Options of {@link Retry}. */
export interface RetryOptions {
  /** Seconds (or a duration string) before the retry runs. Defaults to the task's `defaultRetryDelay`. */
  countdown?: number | string | undefined
  /** Absolute time of the retry; wins over `countdown`. */
  eta?: Date | undefined
  /**
   * The error that caused the retry; stored with the RETRY state, and the task's failure when
   * retries run out (its class and message, as Celery re-raises it; MaxRetriesExceeded without one).
   */
  exc?: unknown | undefined
  /** Overrides the task's `maxRetries` for this retry. `null` retries forever. */
  maxRetries?: number | null | undefined
}

/**
 * Thrown (by `ctx.retry()` or by the task) to ask for the task to run again.
 * A signal, not a failure: the task moves to RETRY and is re-sent.
 */
export class Retry extends Error {
  override name = 'Retry'
  readonly options: RetryOptions
  constructor(options: RetryOptions = {}) {
    super('Retry in ' + (options.countdown ?? 'the default delay'))
    this.options = options
  }
}

/**
 * Thrown to reject the message: with `requeue` it goes back to its queue, otherwise it is
 * dead-lettered and the task ends REJECTED.
 */
export class Reject extends Error {
  override name = 'Reject'
  readonly requeue: boolean
  constructor(reason = 'rejected', options: { requeue?: boolean } = {}) {
    super(reason)
    this.requeue = options.requeue ?? false
  }
}

/** Thrown to end the task with no result stored (state IGNORED). */
export class Ignore extends Error {
  override name = 'Ignore'
  constructor(reason = 'ignored') {
    super(reason)
  }
}
