import t from 'tap'
import { transition, type SnapshotFrom } from 'xstate'
import { getShortestPaths, getSimplePaths } from 'xstate/graph'
import { workerMachine, WorkerState, type WorkerEvent } from '../../src/lifecycle/worker-machine.js'

type Snapshot = SnapshotFrom<typeof workerMachine>

const STOP_WARM: WorkerEvent = { type: 'STOP', cold: false }
const STOP_COLD: WorkerEvent = { type: 'STOP', cold: true }
/** What the node itself reports as its work settles (not what a user asks for). */
const REPORTS: WorkerEvent[] = [{ type: 'STARTED' }, { type: 'START_FAILED', error: 'boom' }, { type: 'DRAINED' }, { type: 'CLOSED' }]
const EVENTS: WorkerEvent[] = [{ type: 'START' }, STOP_WARM, STOP_COLD, ...REPORTS]

const key = (snapshot: Snapshot) => JSON.stringify({ value: snapshot.value, context: snapshot.context })
const paths = getSimplePaths(workerMachine, { events: EVENTS })
/** Every distinct snapshot the machine can reach, with the events that lead there. */
const reachable = new Map(paths.map((path) => [key(path.state), path]))
const describe = (path: (typeof paths)[number]) => path.steps.map((step) => step.event.type + ('cold' in step.event && step.event.cold ? '(cold)' : '')).join(' > ') || '(initial)'
const actionTypes = (snapshot: Snapshot, event: WorkerEvent) => transition(workerMachine, snapshot, event)[1].map((action) => action.type)

t.test('worker machine - the walk reaches every state', async (t) => {
  t.same(new Set([...reachable.values()].map((path) => path.state.value)), new Set(Object.values(WorkerState)))
})

t.test('worker machine - from every reachable state, stop() leads to stopped through the node\'s own reports alone', async (t) => {
  for (const path of reachable.values()) {
    for (const stop of [STOP_WARM, STOP_COLD]) {
      const [afterStop] = transition(workerMachine, path.state, stop)
      // Whatever the node then reports, in any order it can, it never gets stuck short of stopped.
      for (const after of getSimplePaths(workerMachine, { events: REPORTS, fromState: afterStop })) {
        const ahead = getShortestPaths(workerMachine, { events: REPORTS, fromState: after.state, toState: (s) => s.value === WorkerState.STOPPED })
        t.ok(ahead.length > 0, `${describe(path)} > STOP${stop.type === 'STOP' && stop.cold ? '(cold)' : ''} > ${describe(after)} can still reach stopped`)
        t.not(after.state.value, WorkerState.RUNNING, 'a node asked to stop never runs (again)')
      }
    }
  }
})

t.test('worker machine - consuming begins only on entering running, and running is entered only from starting', async (t) => {
  let entries = 0
  for (const path of paths) {
    let previous = workerMachine.resolveState({ value: WorkerState.NEW, context: { stopRequested: false, cold: false, error: undefined } })
    for (const step of path.steps) {
      const actions = actionTypes(previous, step.event)
      if (actions.includes('consume')) {
        entries++
        t.equal(step.state.value, WorkerState.RUNNING, `consume only into running (${describe(path)})`)
        t.equal(previous.value, WorkerState.STARTING)
        t.equal(step.event.type, 'STARTED')
      }
      if (step.state.value === WorkerState.RUNNING && previous.value !== WorkerState.RUNNING) t.ok(actions.includes('consume'), 'entering running begins consuming')
      previous = step.state
    }
  }
  t.ok(entries > 0, 'the walk went through running')
})

t.test('worker machine - START is taken in new only', async (t) => {
  for (const path of reachable.values()) {
    const [next, actions] = transition(workerMachine, path.state, { type: 'START' })
    if (path.state.value === WorkerState.NEW) t.equal(next.value, WorkerState.STARTING)
    else t.ok(next === path.state && actions.length === 0, `START ignored after ${describe(path)}`)
  }
})

t.test('worker machine - a failed start keeps its cause, and stop() then ends in stopped', async (t) => {
  let snapshot = workerMachine.resolveState({ value: WorkerState.NEW, context: { stopRequested: false, cold: false, error: undefined } })
  for (const event of [{ type: 'START' }, { type: 'START_FAILED', error: 'boom' }] as WorkerEvent[]) snapshot = transition(workerMachine, snapshot, event)[0]
  t.equal(snapshot.value, WorkerState.FAILED)
  t.equal(snapshot.context.error, 'boom')
  const [stopped, actions] = transition(workerMachine, snapshot, STOP_WARM)
  t.equal(stopped.value, WorkerState.STOPPED)
  t.same(actions.map((a) => a.type), ['announceStopped'], 'nothing to close: the failed start closed what it had made')
  t.equal(stopped.context.error, 'boom')
})

t.test('worker machine - a stop during the start waits for it, then drains without consuming', async (t) => {
  const [starting] = transition(workerMachine, workerMachine.resolveState({ value: WorkerState.NEW, context: { stopRequested: false, cold: false, error: undefined } }), { type: 'START' })
  const [asked, askedActions] = transition(workerMachine, starting, STOP_WARM)
  t.equal(asked.value, WorkerState.STARTING, 'still starting')
  t.same(askedActions.map((a) => a.type), [], 'nothing is closed under a start in progress')
  const [draining, actions] = transition(workerMachine, asked, { type: 'STARTED' })
  t.equal(draining.value, WorkerState.DRAINING)
  t.same(actions.map((a) => a.type), ['drain'])
  const [failed] = transition(workerMachine, asked, { type: 'START_FAILED', error: 'boom' })
  t.equal(failed.value, WorkerState.STOPPED, 'a start that fails after stop() was called ends stopped, as asked')
  t.equal(failed.context.error, 'boom')
})

t.test('worker machine - a cold stop during a warm drain stops the wait; a warm one changes nothing', async (t) => {
  const draining = [...reachable.values()].find((path) => path.state.value === WorkerState.DRAINING && !path.state.context.cold)!.state
  t.same(actionTypes(draining, STOP_COLD), ['hurry'])
  const [still, actions] = transition(workerMachine, draining, STOP_WARM)
  t.ok(still === draining && actions.length === 0)
})
