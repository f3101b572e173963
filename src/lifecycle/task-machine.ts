/**
 * The lifecycle of one task: a single xstate machine, the only authority on which state changes
 * are legal, and a transition table derived from it for the hot path.
 *
 * @remarks
 * Pure: no I/O, no clock. Recording a state (result backend, events) is the caller's job; this
 * module only says whether a change is allowed and where it leads. A late or duplicate report
 * (a redelivered message saying STARTED after SUCCESS) is refused, never applied.
 * @module
 */
import { setup, transition } from 'xstate'
import type { AnyStateMachine } from 'xstate'
import { TaskState } from './states.js'
import type { StateName } from './states.js'

/** What can happen to a task. Each is an xstate event `{ type }` of {@link taskMachine}. */
export const TaskEventType = {
  /** A worker took the message (also a retried task coming back). */
  RECEIVE: 'RECEIVE',
  /** The task began to run (recorded when `trackStarted` is on). */
  START: 'START',
  /** A custom state update such as PROGRESS with meta; implies the task has started. */
  PROGRESS: 'PROGRESS',
  SUCCEED: 'SUCCEED',
  /** The task failed, or its message could not be decoded or names an unknown task. */
  FAIL: 'FAIL',
  /** The task asked to run again; it is re-sent with the same id. */
  RETRY: 'RETRY',
  REVOKE: 'REVOKE',
  /** `Reject` without requeue: the message is dead-lettered. */
  REJECT: 'REJECT',
  IGNORE: 'IGNORE',
  /** The message goes back to its queue: `Reject` with requeue, a lost worker with `rejectOnWorkerLost`, shutdown. */
  REQUEUE: 'REQUEUE',
} as const
export type TaskEventType = (typeof TaskEventType)[keyof typeof TaskEventType]

/** An event of {@link taskMachine}. Payloads (meta, errors) travel beside it, not inside. */
export type TaskEvent = { type: TaskEventType }

/** How a task that was received (or started) can end, or go back to its queue. */
const RUN_ENDS = {
  SUCCEED: 'SUCCESS',
  FAIL: 'FAILURE',
  RETRY: 'RETRY',
  REVOKE: 'REVOKED',
  REJECT: 'REJECTED',
  IGNORE: 'IGNORED',
  REQUEUE: 'PENDING',
} as const

/**
 * The task lifecycle machine. Run it as an actor where a task's history matters (tests, tools);
 * on the hot path use {@link lifecycle}, which is derived from it.
 *
 * @remarks
 * A PROGRESS update inside STARTED is a targetless transition with the `recordUpdate` action: the
 * action is what makes xstate count it as taken (a targetless transition with no action is a
 * forbidden one). It does nothing by default; a host may supply it with `taskMachine.provide`.
 */
export const taskMachine = setup({
  types: { events: {} as TaskEvent },
  actions: { recordUpdate: () => {} },
}).createMachine({
  id: 'task',
  initial: TaskState.PENDING,
  states: {
    PENDING: {
      on: { RECEIVE: 'RECEIVED', FAIL: 'FAILURE', REVOKE: 'REVOKED' },
    },
    RECEIVED: {
      on: {
        START: 'STARTED',
        PROGRESS: { target: 'STARTED', actions: 'recordUpdate' },
        ...RUN_ENDS,
      },
    },
    STARTED: {
      on: {
        PROGRESS: { actions: 'recordUpdate' },
        ...RUN_ENDS,
      },
    },
    RETRY: {
      on: { RECEIVE: 'RECEIVED', FAIL: 'FAILURE', REVOKE: 'REVOKED' },
    },
    SUCCESS: { type: 'final' },
    FAILURE: { type: 'final' },
    REVOKED: { type: 'final' },
    REJECTED: { type: 'final' },
    IGNORED: { type: 'final' },
  },
})

/** The task machine's transitions as an O(1) table. */
export interface TransitionTable {
  /** Every state of the machine, in document order. */
  readonly states: readonly TaskState[]
  /**
   * Where `event` leads from `state` (a custom state name counts as STARTED), or `undefined`
   * when the machine refuses it. A targetless transition returns `state`'s machine state.
   */
  next(state: string, event: TaskEventType): TaskState | undefined
  /** Whether `state` is final: nothing leaves it. */
  isFinal(state: string): boolean
  /** The machine state a recorded state name stands for: a custom name (PROGRESS) is STARTED. */
  machineState(stateName: string): TaskState
}

const BUILT_IN: ReadonlySet<string> = new Set(Object.values(TaskState))
const EVENTS: readonly TaskEventType[] = Object.values(TaskEventType)

function asTaskState(value: unknown): TaskState {
  if (typeof value !== 'string' || !BUILT_IN.has(value)) {
    throw new Error(`task machine state ${JSON.stringify(value)} is not a TaskState`)
  }
  return value as TaskState
}

/**
 * Builds the transition table of `machine` by asking xstate, once, for every (state, event)
 * pair. Called at module load; throws if a state of the machine is not a TaskState or if it
 * has no STARTED state (where custom states live).
 */
export function deriveTransitions(machine: AnyStateMachine): TransitionTable {
  const table = new Map<string, Map<string, TaskState>>()
  const finals = new Set<string>()
  const states: TaskState[] = []
  for (const [name, node] of Object.entries(machine.states)) {
    const state = asTaskState(name)
    states.push(state)
    if (node.type === 'final') finals.add(state)
    // The task machine keeps no context: a state name is the whole snapshot.
    const snapshot = machine.resolveState({ value: state, context: undefined })
    const row = new Map<string, TaskState>()
    for (const type of EVENTS) {
      const [nextSnapshot, actions] = transition(machine, snapshot, { type })
      // xstate hands back the very same snapshot when no transition was taken; a targetless
      // transition keeps the value but still yields its actions.
      const taken = nextSnapshot !== snapshot || actions.length > 0
      if (taken) row.set(type, asTaskState(nextSnapshot.value))
    }
    table.set(state, row)
  }
  const started = table.get(TaskState.STARTED)
  if (!started) throw new Error('task machine has no STARTED state')

  return {
    states,
    next: (state, event) => (table.get(state) ?? started).get(event),
    isFinal: (state) => finals.has(state),
    machineState: (stateName) => (BUILT_IN.has(stateName) ? (stateName as TaskState) : TaskState.STARTED),
  }
}

/**
 * The transition table of {@link taskMachine}, derived at module load. An actor per task costs
 * tens of microseconds; this lookup costs nanoseconds and cannot drift from the machine.
 * @example
 * lifecycle.next('STARTED', TaskEventType.SUCCEED) // 'SUCCESS'
 * lifecycle.next('SUCCESS', TaskEventType.START) // undefined: refused
 */
export const lifecycle: TransitionTable = deriveTransitions(taskMachine)

const EVENT_FOR_STATE: Readonly<Record<TaskState, TaskEventType>> = {
  PENDING: TaskEventType.REQUEUE,
  RECEIVED: TaskEventType.RECEIVE,
  STARTED: TaskEventType.START,
  RETRY: TaskEventType.RETRY,
  SUCCESS: TaskEventType.SUCCEED,
  FAILURE: TaskEventType.FAIL,
  REVOKED: TaskEventType.REVOKE,
  REJECTED: TaskEventType.REJECT,
  IGNORED: TaskEventType.IGNORE,
}

/**
 * The event that reports reaching `state`, for code that records states by name (a stored
 * record, a state-change event): a custom state is a PROGRESS update, PENDING a requeue.
 * @example
 * lifecycle.next(current, eventForState('PROGRESS')) // STARTED, or undefined after SUCCESS
 */
export function eventForState(state: StateName): TaskEventType {
  return BUILT_IN.has(state) ? EVENT_FOR_STATE[state as TaskState] : TaskEventType.PROGRESS
}
