// get({ timeout }) runs out on the app's clock: a simulated clock moves it, no real waiting.
import t, { type Test } from 'tap'
import { createApp } from '../../src/app/app.js'
import { TimeoutError } from '../../src/errors.js'
import { AsyncResult, type ResultSource } from '../../src/result/async-result.js'
import { GroupResult } from '../../src/result/group-result.js'
import { MemoryBackend, MemoryResultStore } from '../../src/result/memory/memory-backend.js'
import { codecFor } from '../../src/serialization/codec.js'
import { SimulatedClock } from '../../src/util/clock.js'

const START = Date.UTC(2026, 0, 1)

function source(clock: SimulatedClock): { backend: MemoryBackend; source: ResultSource } {
  const backend = new MemoryBackend({ store: new MemoryResultStore('clock'), clock, resultExpiresMs: 0 })
  return { backend, source: { backend: async () => backend, connectedBackend: () => backend, revoke: async () => {}, clock: () => clock } }
}

/** Records when a promise settles, so a test can ask "not yet?" after letting callbacks run. */
function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false
  promise.then(() => (settled = true), () => (settled = true))
  return { settled: () => settled, promise }
}

/** The promise rejects with exactly this class and message. */
async function rejectsWith(t: Test, promise: Promise<unknown>, Class: new (...args: any[]) => Error, message: string): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  t.ok(error instanceof Class, `rejects with a ${Class.name}`)
  t.equal((error as Error)?.message, message)
}

/** Lets every callback already due run (timers fired by the clock settle promises in microtasks). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

t.test('AsyncResult.get - a timeout runs out on the injected clock, not before', async (t) => {
  const clock = new SimulatedClock(START)
  const { backend, source: src } = source(clock)
  const began = performance.now()
  const wait = track(new AsyncResult('slow-1', src).get({ timeout: 5 }))
  clock.advance(4_999)
  await turn()
  t.notOk(wait.settled(), 'still waiting 1 ms before the timeout')
  clock.advance(1)
  await rejectsWith(t, wait.promise, TimeoutError, 'result of task slow-1 not ready after 5s')
  t.equal(((await wait.promise.catch((e: unknown) => e)) as TimeoutError).code, 'ERR_TIMEOUT')
  t.ok(performance.now() - began < 4_000, 'no real 5 s wait')
  t.equal(clock.pending, 0, 'the timer is gone')
  await backend.close()
})

t.test('AsyncResult.get - a result before the timeout clears its timer', async (t) => {
  const clock = new SimulatedClock(START)
  const { backend, source: src } = source(clock)
  const wait = new AsyncResult('quick-1', src).get({ timeout: '5s' })
  t.equal(clock.pending, 1, 'one timer on the simulated clock')
  await backend.store({ taskId: 'quick-1', state: 'SUCCESS', result: codecFor('application/json').encode(42), contentType: 'application/json' })
  t.equal(await wait, 42)
  t.equal(clock.pending, 0, 'the timer is cleared')
  await backend.close()
})

t.test('App - asyncResult().get runs out on the app clock', async (t) => {
  const clock = new SimulatedClock(START)
  const app = createApp({ name: 'result-clock-app', clock, broker: 'memory://result-clock', backend: 'memory://result-clock' })
  await app.backend()
  const began = performance.now()
  const wait = track(app.asyncResult('app-slow').get({ timeout: 5 }))
  clock.advance(4_999)
  await turn()
  t.notOk(wait.settled(), 'still waiting 1 ms before the timeout')
  clock.advance(1)
  // No worker runs in this process, which the message says (see test/unit/stranded-hint.test.ts).
  await rejectsWith(t, wait.promise, TimeoutError, "result of task app-slow not ready after 5s: this app's broker is memory://result-clock, in this process, and no worker runs here: nothing runs its tasks until app.worker() starts one in this process. A worker in another process needs a shared broker and backend, e.g. createApp({ broker: 'nats://...', backend: 'nats://' }).")
  t.ok(performance.now() - began < 4_000, 'no real 5 s wait')
  await app.close()
})

t.test('GroupResult.get - the timeout runs out on the members\' clock and counts those not ready', async (t) => {
  const clock = new SimulatedClock(START)
  const { backend, source: src } = source(clock)
  await backend.store({ taskId: 'g-done', state: 'SUCCESS', result: codecFor('application/json').encode(1), contentType: 'application/json' })
  const group = new GroupResult('g1', [new AsyncResult('g-done', src), new AsyncResult('g-slow', src), new AsyncResult('g-slower', src)])
  const wait = track(group.get({ timeout: 5 }))
  await turn()
  clock.advance(4_999)
  await turn()
  t.notOk(wait.settled(), 'still waiting 1 ms before the timeout')
  clock.advance(1)
  await rejectsWith(t, wait.promise, TimeoutError, 'group g1: 2 of 3 results not ready after 5s')
  await backend.close()
})

t.test('GroupResult.get - a member that failed with a TimeoutError is a failure, not a timeout', async (t) => {
  const clock = new SimulatedClock(START)
  const { backend, source: src } = source(clock)
  await backend.store({ taskId: 'g-timed-out', state: 'FAILURE', error: { type: 'TimeoutError', code: 'ERR_TIMEOUT', message: 'upstream took too long' } })
  const group = new GroupResult('g2', [new AsyncResult('g-timed-out', src)])
  await t.rejects(group.get(), { name: 'TimeoutError', message: 'upstream took too long' }, 'without a timeout: the task\'s own error')
  await t.rejects(group.get({ timeout: 5 }), { name: 'TimeoutError', message: 'upstream took too long' }, 'with one: still the task\'s error')
  await backend.close()
})
