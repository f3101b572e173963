/**
 * The lifecycle of one worker node: a single xstate machine that says what the node may do now.
 * The node runs it as an actor and supplies the actions (make its resources, begin consuming,
 * drain, close); this module does no I/O and knows no clock.
 *
 * @remarks
 * One actor per node, never per task: the hot path reads the node's state, it never sends here.
 * ```
 * new --START--> starting --STARTED--> running --STOP--> draining --DRAINED--> stopping --CLOSED--> stopped
 *  |                |  \--START_FAILED--> failed --STOP--> stopped
 *  \--STOP--> stopped  \--STOP: remembered; once started, straight to draining (never running)
 * ```
 * @module
 */
import { assign, setup } from 'xstate'

/** The states of a worker node. */
export const WorkerState = {
  /** Built, nothing made yet. */
  NEW: 'new',
  /** Loading tasks, connecting, starting threads. */
  STARTING: 'starting',
  /** Consuming its queues. */
  RUNNING: 'running',
  /** Consuming no more; running tasks finish (warm) or not (cold); waiting ones go back. */
  DRAINING: 'draining',
  /** Terminating threads and closing subscriptions. */
  STOPPING: 'stopping',
  /** Done: nothing of the node is left open. */
  STOPPED: 'stopped',
  /** The start failed; what it had made is closed again. The cause is kept. */
  FAILED: 'failed',
} as const
export type WorkerState = (typeof WorkerState)[keyof typeof WorkerState]

/** What the node reports to its machine. */
export type WorkerEvent =
  | { type: 'START' }
  /** Everything is made: the node may consume. */
  | { type: 'STARTED' }
  /** The start threw, and what it had made is closed. */
  | { type: 'START_FAILED'; error: unknown }
  /** `stop()` or a remote `shutdown`; `cold` stops without waiting for running tasks. */
  | { type: 'STOP'; cold: boolean }
  /** No task is waiting any more (or the wait timed out, or the stop turned cold). */
  | { type: 'DRAINED' }
  /** Threads and subscriptions are closed. */
  | { type: 'CLOSED' }

export interface WorkerContext {
  /** A stop arrived while starting: carried out once the start settles. */
  stopRequested: boolean
  cold: boolean
  /** Why the start failed. */
  error: unknown
}

/**
 * The worker node machine. Its actions do nothing here; a node supplies them with
 * `workerMachine.provide({ actions })`:
 * - `boot` (entering starting): make the node's resources, then report STARTED or START_FAILED.
 * - `consume` (entering running, and only there): begin consuming.
 * - `drain` (entering draining): stop consuming, give back what waits, then report DRAINED.
 * - `hurry` (a cold STOP while draining): stop waiting for running tasks.
 * - `close` (entering stopping): terminate threads, close subscriptions, then report CLOSED.
 * - `announceStopped`, `announceFailed`: entering stopped, failed.
 *
 * STOP is accepted in every state: it stops, is remembered (starting), turns a warm drain cold
 * (draining), or changes nothing (stopping, stopped). START is accepted only in new.
 */
export const workerMachine = setup({
  types: { context: {} as WorkerContext, events: {} as WorkerEvent },
  actions: {
    boot: () => {},
    consume: () => {},
    drain: () => {},
    hurry: () => {},
    close: () => {},
    announceStopped: () => {},
    announceFailed: () => {},
  },
  guards: {
    stopRequested: ({ context }) => context.stopRequested,
    cold: ({ event }) => event.type === 'STOP' && event.cold,
  },
}).createMachine({
  id: 'worker',
  initial: WorkerState.NEW,
  context: { stopRequested: false, cold: false, error: undefined },
  states: {
    new: {
      on: { START: 'starting', STOP: 'stopped' },
    },
    starting: {
      entry: 'boot',
      on: {
        STARTED: [{ guard: 'stopRequested', target: 'draining' }, { target: 'running' }],
        // A stop was asked for and the start failed: stopped, as asked; the cause is still kept.
        START_FAILED: [
          { guard: 'stopRequested', target: 'stopped', actions: assign({ error: ({ event }) => event.error }) },
          { target: 'failed', actions: assign({ error: ({ event }) => event.error }) },
        ],
        STOP: { actions: assign({ stopRequested: true, cold: ({ context, event }) => context.cold || event.cold }) },
      },
    },
    running: {
      entry: 'consume',
      on: { STOP: { target: 'draining', actions: assign({ cold: ({ event }) => event.cold }) } },
    },
    draining: {
      entry: 'drain',
      on: {
        DRAINED: 'stopping',
        STOP: { guard: 'cold', actions: [assign({ cold: true }), 'hurry'] },
      },
    },
    stopping: {
      entry: 'close',
      on: { CLOSED: 'stopped' },
    },
    failed: {
      entry: 'announceFailed',
      on: { STOP: 'stopped' },
    },
    // Not `final`: a stopped node still answers stop() (by doing nothing), and a final state
    // would stop the actor, which then warns about every event sent to it.
    stopped: {
      entry: 'announceStopped',
    },
  },
})
