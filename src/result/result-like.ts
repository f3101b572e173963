/**
 * What the result handles share: the options of `get()`, the state changes observers see, and
 * the shape of a result that {@link AsyncResult} and {@link GroupResult} both have.
 *
 * @remarks
 * Kept apart from both classes so that neither imports the other both ways: a group holds
 * task results, and a task result in a chain points at its parent, which may be a group.
 * @module
 */
import { InvalidArgumentError, TimeoutError } from '../errors.js'
import { checkKnownKeys } from '../util/closest.js'
import type { Duration } from '../util/duration.js'
import type { StateName } from '../lifecycle/states.js'

/** One accepted state change of a task, as observers see it. */
export interface StateChange {
  taskId: string
  state: StateName
  /** SUCCESS: the return value; custom states (PROGRESS): their meta; STARTED: `{ hostname, pid }` of the worker. */
  result?: unknown
  /** FAILURE, RETRY, REVOKED, REJECTED: the error, rebuilt with its class name, code, data and remote stack. */
  error?: Error
  retries?: number
  worker?: string
}

/** Options of {@link AsyncResult.get}. */
export interface GetOptions {
  /** Seconds (or a duration string) to wait before TimeoutError. Waits forever by default. */
  timeout?: Duration | undefined
  /** Throw the task's error when it failed. @default true */
  propagate?: boolean | undefined
  /** Sees every state change while waiting. */
  onMessage?: ((change: StateChange) => void) | undefined
  /**
   * In a chain: also watch the steps before this one (its `parent`s) and fail with a parent's
   * error as soon as one fails (Celery's `follow_parents`). A celeriac chain already fails its
   * later steps with the failing step's error, so this only makes the failure arrive without
   * waiting for this step's record. @default false
   */
  followParents?: boolean | undefined
}

/**
 * A group's values with `propagate: false`: each member's value, or the error it failed with.
 * On a tuple, position by position.
 */
export type ValuesOrErrors<R> = { [K in keyof R]: R[K] | Error }

export const GET_OPTION_KEYS = ['timeout', 'propagate', 'onMessage', 'followParents'] as const satisfies readonly (keyof GetOptions)[]
const everyGetOption: Exclude<keyof GetOptions, (typeof GET_OPTION_KEYS)[number]> extends never ? true : never = true
void everyGetOption

/** Refuses what is not `get()` options: `{ timout: 1 }` would otherwise wait for ever. */
export function checkGetOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`get(options): options must be an object, got ${JSON.stringify(options)}`)
  checkKnownKeys(options, GET_OPTION_KEYS, (key, near) => new InvalidArgumentError(`get: unknown option ${key}${near ? ` (did you mean ${near}?)` : ''}`))
}

/** A task's result or a group's: what a chain step's `parent` and a group's members have. */
export interface ResultLike<R = unknown> {
  readonly id: string
  /** In a chain: the result of the step before this one. */
  parent?: ResultLike
  /** Waits for the result; with `timeout`, rejects with a TimeoutError on the app's clock. */
  get(options?: Omit<GetOptions, 'onMessage'>): Promise<R>
  ready(): Promise<boolean>
  successful(): Promise<boolean>
  failed(): Promise<boolean>
  revoke(options?: { terminate?: boolean }): Promise<void>
  forget(): Promise<void>
}

/** The TimeoutErrors of a `get()` that ran out of time, as opposed to a task that failed with one. */
const waitTimeouts = new WeakSet<Error>()

/** A TimeoutError for a `get()` whose `timeout` ran out. */
export function waitTimeout(message: string): TimeoutError {
  const error = new TimeoutError(message)
  waitTimeouts.add(error)
  return error
}

/** True for an error made by {@link waitTimeout}; a task that failed with a TimeoutError is not one. */
export function isWaitTimeout(error: unknown): boolean {
  return error instanceof Error && waitTimeouts.has(error)
}
