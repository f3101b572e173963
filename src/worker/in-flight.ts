import type { TaskHeaders } from '../protocol/envelope.js'
import type { Delivery } from '../transport/transport.js'
import type { ResolvedTaskOptions, TaskDefinition } from '../task/definition.js'
import type { TaskState } from '../lifecycle/states.js'
import type { TimerHandle } from '../util/clock.js'

/** A task a worker node has taken from its queue and not yet settled: the supervisor's record. */
export interface InFlight {
  headers: TaskHeaders
  delivery: Delivery
  definition: TaskDefinition
  options: ResolvedTaskOptions
  /** The lifecycle machine's state for this task. */
  state: TaskState
  /** The custom state last reported (PROGRESS), for the stored record. */
  customState?: string
  acked: boolean
  /** Store nothing for this task. */
  ignoreResult?: boolean
  /** Set while the task is on a thread. */
  threadId?: number
  slot: number
  /** Hard time limit watchdog. */
  timer?: TimerHandle
  /** Why the supervisor terminated its thread, if it did. */
  killedFor?: Error
}
