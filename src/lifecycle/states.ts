/**
 * Task states, as Celery names them, plus REJECTED and IGNORED for the Reject/Ignore signals.
 * A custom state (such as `PROGRESS`) is any other string: an update inside STARTED.
 * @module
 */

export const TaskState = {
  PENDING: 'PENDING',
  RECEIVED: 'RECEIVED',
  STARTED: 'STARTED',
  RETRY: 'RETRY',
  SUCCESS: 'SUCCESS',
  FAILURE: 'FAILURE',
  REVOKED: 'REVOKED',
  REJECTED: 'REJECTED',
  IGNORED: 'IGNORED',
} as const
export type TaskState = (typeof TaskState)[keyof typeof TaskState]

/** A built-in state or a custom one set with `updateState`. */
export type StateName = TaskState | (string & {})

/**
 * States a task never leaves. Celery counts SUCCESS, FAILURE and REVOKED; celeriac also ends
 * REJECTED and IGNORED tasks here so that `get()` settles instead of waiting forever.
 */
export const READY_STATES: ReadonlySet<string> = new Set([
  TaskState.SUCCESS, TaskState.FAILURE, TaskState.REVOKED, TaskState.REJECTED, TaskState.IGNORED,
])

/** Ready states whose result is an error. */
export const EXCEPTION_STATES: ReadonlySet<string> = new Set([
  TaskState.FAILURE, TaskState.REVOKED, TaskState.REJECTED, TaskState.IGNORED,
])

export function isReady(state: string): boolean {
  return READY_STATES.has(state)
}
