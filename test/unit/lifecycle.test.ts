import t from 'tap'
import { createActor, createMachine, getNextTransitions } from 'xstate'
import { getAdjacencyMap, getPathsFromEvents, getShortestPaths, getSimplePaths } from 'xstate/graph'
import { READY_STATES, TaskState } from '../../src/lifecycle/states.js'
import { deriveTransitions, eventForState, lifecycle, TaskEventType, taskMachine } from '../../src/lifecycle/task-machine.js'

const { PENDING, RECEIVED, STARTED, RETRY, SUCCESS, FAILURE, REVOKED, REJECTED, IGNORED } = TaskState
const EVENTS = Object.values(TaskEventType)
const ALL_STATES = Object.values(TaskState)
const FINAL_STATES: TaskState[] = [SUCCESS, FAILURE, REVOKED, REJECTED, IGNORED]

// The specification, written out once so the machine is checked against it, not against itself.
const LEGAL: [from: TaskState, event: TaskEventType, to: TaskState][] = [
  [PENDING, 'RECEIVE', RECEIVED], [RETRY, 'RECEIVE', RECEIVED],
  [RECEIVED, 'START', STARTED],
  [RECEIVED, 'PROGRESS', STARTED], [STARTED, 'PROGRESS', STARTED],
  [RECEIVED, 'SUCCEED', SUCCESS], [STARTED, 'SUCCEED', SUCCESS],
  [PENDING, 'FAIL', FAILURE], [RECEIVED, 'FAIL', FAILURE], [STARTED, 'FAIL', FAILURE], [RETRY, 'FAIL', FAILURE],
  [RECEIVED, 'RETRY', RETRY], [STARTED, 'RETRY', RETRY],
  [PENDING, 'REVOKE', REVOKED], [RECEIVED, 'REVOKE', REVOKED], [STARTED, 'REVOKE', REVOKED], [RETRY, 'REVOKE', REVOKED],
  [RECEIVED, 'REJECT', REJECTED], [STARTED, 'REJECT', REJECTED],
  [RECEIVED, 'IGNORE', IGNORED], [STARTED, 'IGNORE', IGNORED],
  [RECEIVED, 'REQUEUE', PENDING], [STARTED, 'REQUEUE', PENDING],
]

const ALL_EVENTS = EVENTS.map((type) => ({ type }))
const snapshotOf = (value: TaskState) => taskMachine.resolveState({ value })

t.test('lifecycle - every listed transition is accepted', async (t) => {
  for (const [from, event, to] of LEGAL) t.equal(lifecycle.next(from, event), to, `${from} --${event}--> ${to}`)
})

t.test('lifecycle - every pair not listed is refused', async (t) => {
  const legal = new Set(LEGAL.map(([from, event]) => `${from}:${event}`))
  for (const state of ALL_STATES) {
    for (const event of EVENTS) {
      if (!legal.has(`${state}:${event}`)) t.equal(lifecycle.next(state, event), undefined, `${state} refuses ${event}`)
    }
  }
})

t.test('lifecycle - late and duplicate events are refused', async (t) => {
  t.equal(lifecycle.next(SUCCESS, 'START'), undefined, 'START after SUCCESS')
  t.equal(lifecycle.next(REVOKED, 'SUCCEED'), undefined, 'SUCCEED after REVOKED')
  t.equal(lifecycle.next(STARTED, 'RECEIVE'), undefined, 'RECEIVE in STARTED')
  t.equal(lifecycle.next(STARTED, 'START'), undefined, 'duplicate START')
  for (const state of FINAL_STATES) {
    for (const event of EVENTS) t.equal(lifecycle.next(state, event), undefined, `${event} after ${state}`)
  }
})

t.test('lifecycle - custom states act as STARTED', async (t) => {
  t.equal(lifecycle.machineState('PROGRESS'), STARTED)
  t.equal(lifecycle.machineState('UPLOADING'), STARTED)
  t.equal(lifecycle.machineState(RETRY), RETRY)
  t.equal(lifecycle.next('PROGRESS', 'SUCCEED'), SUCCESS)
  t.equal(lifecycle.next('PROGRESS', 'PROGRESS'), STARTED)
  t.equal(lifecycle.next('constructor', 'SUCCEED'), SUCCESS, 'names that collide with Object.prototype are custom too')
})

t.test('lifecycle - isFinal matches the machine and READY_STATES', async (t) => {
  for (const state of ALL_STATES) {
    t.equal(lifecycle.isFinal(state), FINAL_STATES.includes(state), state)
    t.equal(lifecycle.isFinal(state), READY_STATES.has(state), `${state} ready`)
  }
  t.equal(lifecycle.isFinal('PROGRESS'), false)
  t.same([...lifecycle.states].sort(), [...ALL_STATES].sort())
})

t.test('lifecycle - eventForState names the event that reaches a state', async (t) => {
  for (const [from, event, to] of LEGAL) {
    if (event !== 'PROGRESS') t.equal(lifecycle.next(from, eventForState(to)), to, `${from} -> ${to}`)
  }
  t.equal(eventForState('PROGRESS'), 'PROGRESS')
  t.equal(eventForState(PENDING), 'REQUEUE')
})

t.test('lifecycle - derived table agrees with a running xstate actor on every pair', async (t) => {
  for (const state of ALL_STATES) {
    for (const type of EVENTS) {
      let updates = 0
      const machine = taskMachine.provide({ actions: { recordUpdate: () => void updates++ } })
      const actor = createActor(machine, { snapshot: snapshotOf(state) }).start()
      actor.send({ type })
      const value = actor.getSnapshot().value
      actor.stop()
      const accepted = value !== state || updates > 0
      t.equal(accepted ? value : undefined, lifecycle.next(state, type), `${state} + ${type}`)
    }
  }
})

t.test('lifecycle - deriving twice gives the same table', async (t) => {
  const again = deriveTransitions(taskMachine)
  for (const state of ALL_STATES) {
    for (const event of EVENTS) t.equal(again.next(state, event), lifecycle.next(state, event))
  }
})

t.test('lifecycle - deriving refuses a machine that is not a task lifecycle', async (t) => {
  const stranger = createMachine({ initial: 'PENDING', states: { PENDING: { on: { START: 'WAITING' } }, WAITING: {} } })
  t.throws(() => deriveTransitions(stranger), { message: 'task machine state "WAITING" is not a TaskState' })
  const noStarted = createMachine({ initial: 'PENDING', states: { PENDING: { on: { FAIL: 'FAILURE' } }, FAILURE: { type: 'final' } } })
  t.throws(() => deriveTransitions(noStarted), { message: 'task machine has no STARTED state' })
})

t.test('lifecycle - the machine runs as an actor through progress updates to SUCCESS', async (t) => {
  const actor = createActor(taskMachine).start()
  const values: string[] = []
  actor.subscribe((snapshot) => values.push(String(snapshot.value)))
  for (const type of ['RECEIVE', 'PROGRESS', 'PROGRESS', 'SUCCEED', 'START'] as const) actor.send({ type })
  t.equal(actor.getSnapshot().value, SUCCESS)
  t.equal(actor.getSnapshot().status, 'done')
  t.equal(values.at(-1), SUCCESS, 'the late START after SUCCESS changed nothing')
  actor.stop()
})

t.test('lifecycle graph - every reachable state can reach a final state', async (t) => {
  const reachable = getShortestPaths(taskMachine, { events: ALL_EVENTS }).map((path) => path.state.value as TaskState)
  t.same([...reachable].sort(), [...ALL_STATES].sort(), 'every state is reachable from PENDING')
  for (const state of reachable) {
    if (lifecycle.isFinal(state)) continue
    const onward = getShortestPaths(taskMachine, { events: ALL_EVENTS, fromState: snapshotOf(state) })
    const finals = onward.filter((path) => path.state.status === 'done').map((path) => path.state.value)
    t.ok(finals.length > 0, `${state} reaches ${finals.join(', ')}`)
  }
})

t.test('lifecycle graph - every final state is a ready state', async (t) => {
  const adjacency = getAdjacencyMap(taskMachine, { events: ALL_EVENTS })
  const finals = Object.values(adjacency).map((entry) => entry.state).filter((snapshot) => snapshot.status === 'done')
  t.equal(finals.length, FINAL_STATES.length)
  for (const snapshot of finals) t.ok(READY_STATES.has(snapshot.value), `${snapshot.value} is ready`)
})

t.test('lifecycle graph - final states have no outgoing transitions', async (t) => {
  const adjacency = getAdjacencyMap(taskMachine, { events: ALL_EVENTS })
  for (const { state, transitions } of Object.values(adjacency)) {
    if (state.status !== 'done') continue
    t.same(getNextTransitions(state), [], `${state.value} has no transitions`)
    // Keys are branded strings, which Object.values cannot see through.
    const edges = Object.values(transitions) as { event: { type: string }; state: typeof state }[]
    for (const { event, state: next } of edges) {
      t.equal(next.value, state.value, `${event.type} leaves ${state.value} where it is`)
    }
  }
})

t.test('lifecycle graph - every simple path from PENDING uses only legal steps', async (t) => {
  const paths = getSimplePaths(taskMachine, { events: ALL_EVENTS })
  t.ok(paths.length >= ALL_STATES.length)
  for (const path of paths) {
    let state: string = PENDING
    for (const step of path.steps.slice(1)) {
      const next = lifecycle.next(state, step.event.type)
      t.equal(next, step.state.value, `${state} --${step.event.type}-->`)
      state = step.state.value
    }
  }
})

t.test('lifecycle graph - the retry path is accepted in order', async (t) => {
  const events = [RECEIVED, STARTED, RETRY, RECEIVED, STARTED, SUCCESS].map((state) => ({ type: eventForState(state) }))
  t.same(events.map((event) => event.type), ['RECEIVE', 'START', 'RETRY', 'RECEIVE', 'START', 'SUCCEED'])
  const [path] = getPathsFromEvents(taskMachine, events)
  t.ok(path, 'xstate finds the path')
  t.same(path!.steps.map((step) => step.state.value), [PENDING, RECEIVED, STARTED, RETRY, RECEIVED, STARTED, SUCCESS])

  let state: TaskState | undefined = PENDING
  const seen: string[] = [state]
  for (const { type } of events) {
    state = lifecycle.next(state!, type)
    seen.push(String(state))
  }
  t.same(seen, [PENDING, RECEIVED, STARTED, RETRY, RECEIVED, STARTED, SUCCESS])
})
