// The canvas interpreter from data alone: what a canvas plans to send (with ids from a counter
// instead of UUIDs), what `call()` runs here from the same plan, and what the worker's flow
// stores, on a simulated clock.
import t from 'tap'
import { ChordError, InvalidArgumentError, chain, signature } from '../../src/index.js'
import { planCanvas, planSends, type NewId } from '../../src/canvas/plan.js'
import { callCanvas } from '../../src/canvas/call-local.js'
import { continueFlow } from '../../src/canvas/flow.js'
import { callbackData, optionsData } from '../../src/canvas/options-data.js'
import { IDENTITY_TASK } from '../../src/canvas/builtins.js'
import { MemoryBackend, MemoryResultStore } from '../../src/result/memory/memory-backend.js'
import { SimulatedClock } from '../../src/util/clock.js'
import { toWireError } from '../../src/serialization/failure.js'
import type { ChordData, GroupData, SignatureData, TaskSignatureData } from '../../src/canvas/data.js'
import type { WorkflowHost } from '../../src/canvas/host.js'
import type { TaskHeaders } from '../../src/protocol/envelope.js'

/** Ids id1, id2, ... in the order the plan asks for them. */
function counter(): NewId {
  let n = 0
  return () => `id${++n}`
}

const task = (name: string, ...args: unknown[]): TaskSignatureData => ({ task: name, args, kwargs: {}, options: {}, immutable: false })
const frozen = (name: string, args: unknown[], options: Record<string, unknown>): TaskSignatureData => ({ task: name, args, kwargs: {}, options, immutable: false })

t.test('plan - a chain sends its first step, carrying the rest; its result is the last step, parented back', async (t) => {
  const data: SignatureData = { subtaskType: 'chain', tasks: [task('a', 1, 2), task('b', 3), task('c', 4)], options: {} }
  const plan = planCanvas(data, [], { priority: 3, countdown: 5 }, counter())
  t.same(plan.chords, [])
  t.same(plan.sends, [{
    task: 'a', args: [1, 2], options: { priority: 3, countdown: 5, taskId: 'id1', rootId: 'id1' },
    flow: { chain: [frozen('b', [3], { priority: 3, taskId: 'id2' }), frozen('c', [4], { priority: 3, taskId: 'id3' })] },
  }], 'options reach every step; countdown only the first')
  t.same(plan.result, { type: 'task', id: 'id3', parent: { type: 'task', id: 'id2', parent: { type: 'task', id: 'id1' } } })
})

t.test('plan - a group sends every member with the partial arguments first and its group id', async (t) => {
  const plan = planCanvas({ subtaskType: 'group', tasks: [task('a', 1), task('b', 2)], options: {} }, [10], {}, counter())
  t.same(plan.sends, [
    { task: 'a', args: [10, 1], options: { groupId: 'id1', taskId: 'id2', rootId: 'id2' }, flow: {} },
    { task: 'b', args: [10, 2], options: { groupId: 'id1', taskId: 'id3', rootId: 'id2' }, flow: {} },
  ])
  t.same(plan.result, { type: 'group', id: 'id1', members: [{ type: 'task', id: 'id2' }, { type: 'task', id: 'id3' }] })
})

t.test('plan - a chord stores its record first; each member carries its place and keeps its result', async (t) => {
  const plan = planCanvas({ subtaskType: 'chord', header: [task('a', 1), task('b', 2)], body: task('sum'), options: {} }, [], {}, counter())
  t.same(plan.chords, [{ id: 'id1', size: 2, body: frozen('sum', [], { taskId: 'id4' }), results: ['id2', 'id3'], rootId: 'id2' }])
  t.same(plan.sends, [
    { task: 'a', args: [1], options: { groupId: 'id1', taskId: 'id2', rootId: 'id2', ignoreResult: false }, flow: { chord: { id: 'id1', index: 0, size: 2 } } },
    { task: 'b', args: [2], options: { groupId: 'id1', taskId: 'id3', rootId: 'id2', ignoreResult: false }, flow: { chord: { id: 'id1', index: 1, size: 2 } } },
  ])
  t.same(plan.result, { type: 'task', id: 'id4', parent: { type: 'group', id: 'id1', members: [{ type: 'task', id: 'id2' }, { type: 'task', id: 'id3' }] } })
})

t.test('plan - nested: a group in a chord header ends in the identity task; a group followed by a step is a chord', async (t) => {
  const header: GroupData = { subtaskType: 'group', tasks: [task('a'), task('b')], options: {} }
  const plan = planCanvas({ subtaskType: 'chord', header: [header, task('c')], body: task('d'), options: {} }, [], {}, counter())
  const outer = plan.frozen as ChordData
  const inner = outer.header[0] as ChordData
  t.equal(inner.subtaskType, 'chord', 'the group member became a chord')
  t.equal((inner.body as TaskSignatureData).task, IDENTITY_TASK)
  t.same(plan.chords.map((c) => ({ id: c.id, size: c.size, chord: c.chord })), [
    { id: outer.options.groupId, size: 2, chord: undefined },
    { id: inner.options.groupId, size: 2, chord: { id: outer.options.groupId, index: 0, size: 2 } },
  ], 'the inner chord completes member 0 of the outer one')
  t.same(plan.sends.map((s) => [s.task, s.flow.chord]), [
    ['a', { id: inner.options.groupId, index: 0, size: 2 }],
    ['b', { id: inner.options.groupId, index: 1, size: 2 }],
    ['c', { id: outer.options.groupId, index: 1, size: 2 }],
  ])

  // What the worker plans when the chain's first step returns 5: the group and the step after it form a chord.
  const piped = planCanvas({ subtaskType: 'chain', tasks: [task('a'), { subtaskType: 'group', tasks: [task('m', 2), task('m', 3)], options: {} }, task('sum')], options: {} }, [], {}, counter())
  const [next, after] = piped.sends[0].flow.chain!
  const continued = planSends(next, { prepend: [5], parentId: 'id1', rootId: 'id1', chain: [after] })
  t.same(continued.chords.map((c) => [c.id, c.size, c.results, (c.body as TaskSignatureData).task]), [['id2', 2, ['id3', 'id4'], 'sum']])
  t.same(continued.sends.map((s) => [s.task, s.args, s.options.parentId]), [['m', [5, 2], 'id1'], ['m', [5, 3], 'id1']])
})

t.test('plan - data as a user or a message writes it: defaults filled in, bad data refused by name', async (t) => {
  const plan = planCanvas({ task: 'a', args: [1] } as SignatureData, [], {}, counter())
  t.same(plan.sends, [{ task: 'a', args: [1], options: { taskId: 'id1', rootId: 'id1' }, flow: {} }])
  t.throws(() => planCanvas({ not: 'a signature' } as never, [], {}), new InvalidArgumentError('not a signature: Object'))
  t.throws(() => planCanvas({ subtaskType: 'chain', tasks: [], options: {} }, [], {}), new InvalidArgumentError('a chain needs at least one step'))
  t.same(signature({ task: 'a', args: [1] } as never).toJSON(), { task: 'a', args: [1], kwargs: {}, options: {}, immutable: false }, 'signature(data) reads data the same way')
})

t.test('plan - a callback becomes data the same way, signature or data', async (t) => {
  const sig = signature('b', { args: [1], options: { link: signature('c') } })
  t.same(callbackData(sig), callbackData(sig.toJSON()))
  t.same(callbackData([sig, sig.toJSON()]), [sig.toJSON(), sig.toJSON()])
  t.equal(callbackData(undefined), undefined)
  t.same(optionsData({ queue: 'q', linkError: sig }), { queue: 'q', linkError: [sig.toJSON()] })
})

t.test('call - runs the same plan here: each task through runLocal, in dependency order', async (t) => {
  const ran: [string, unknown[]][] = []
  const runLocal = async (name: string, args: readonly unknown[]) => {
    ran.push([name, [...args]])
    if (name === 'fail') throw new RangeError(`no ${args[0]}`)
    return name === 'sum' ? (args[0] as number[]).reduce((a, b) => a + b, 0) : name === IDENTITY_TASK ? args[0] : (args as number[]).reduce((a, b) => a * b, 1)
  }
  const data: SignatureData = { subtaskType: 'chain', tasks: [task('mul', 2), { subtaskType: 'chord', header: [task('mul', 3), task('mul', 4)], body: task('sum'), options: {} }, task('mul', 10)], options: {} }
  t.equal(await callCanvas(runLocal, data, [5]), 700, '5 * 2 = 10 -> [30, 40] -> 70 -> 700')
  t.same(ran, [['mul', [5, 2]], ['mul', [10, 3]], ['mul', [10, 4]], ['sum', [[30, 40]]], ['mul', [70, 10]]])

  ran.length = 0
  const failing: SignatureData = { subtaskType: 'chain', tasks: [task('mul', 1), task('fail'), task('mul', 2)], options: {} }
  await t.rejects(callCanvas(runLocal, failing, [3]), new RangeError('no 3'), "a chain rejects with the failing step's error")
  t.same(ran.map(([name]) => name), ['mul', 'fail'], 'the steps after it never run')

  const chord: SignatureData = { subtaskType: 'chord', header: [task('mul', 1), task('fail', 'member')], body: task('sum'), options: {} }
  const error = await callCanvas(runLocal, chord, [], counter()).catch((e: unknown) => e)
  t.ok(error instanceof ChordError, 'a chord with a failed member rejects with a ChordError, as get() does')
  t.equal((error as ChordError).message, 'Dependency id3 raised RangeError: no member')

  const group: SignatureData = { subtaskType: 'group', tasks: [task('mul', 1), task('fail', 'second'), task('fail', 'third')], options: {} }
  await t.rejects(callCanvas(runLocal, group, []), new RangeError('no second'), "a group rejects with its first failure in member order")
})

t.test('flow - records of steps that will never run are dated by the host clock', async (t) => {
  const clock = new SimulatedClock(Date.UTC(2030, 0, 1))
  const backend = new MemoryBackend({ store: new MemoryResultStore(), clock, resultExpiresMs: 0 })
  const host: WorkflowHost = {
    sendTask: async () => t.fail('nothing is sent'),
    backend: async () => backend,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    clock,
  }
  const rest = planCanvas(chain(signature('b'), signature('c')).toJSON(), [], {}, counter()).frozen as { tasks: SignatureData[] }
  const headers = { id: 'first', task: 'a', retries: 0, rootId: 'first', chain: rest.tasks } as TaskHeaders
  await continueFlow(host, headers, 'FAILURE', { error: toWireError(new RangeError('broke')) })
  for (const id of ['id1', 'id2']) {
    const meta = await backend.get(id)
    t.match(meta, { state: 'FAILURE', dateDone: Date.UTC(2030, 0, 1), parentId: 'first', rootId: 'first', error: { type: 'RangeError', message: 'broke' } })
  }
  await backend.close()
})
