// An outside audit found that a task sent with `ignoreResult` handed `undefined` to its link
// callbacks and to the next step of its chain (NaN where Celery gives 6, 7, 64): the worker
// thread dropped the return value. ignoreResult means only that the result is not stored.
// Run on memory:// and on a real nats-server, where the defect showed alike.
import t from 'tap'
import { chain, chord } from '../../src/index.js'
import { startNatsServer } from '../../src/testing/nats-server.js'
import type { Fixture } from '../fixtures/signals-flow-app.js'
import type { Test } from 'tap'

const T = { timeout: 20 }
const server = await startNatsServer()
process.env.SIGFLOW_BROKER_URL = server.url
const { memory, nats } = await import('../fixtures/signals-flow-app.js')
t.teardown(() => server.cleanup())

function cases(t: Test, fx: Fixture): void {
  const { app, add, mul, echo, xsum, noResult } = fx

  t.test('ignoreResult - a chain step whose task ignores its result hands it on, and stores nothing', async (t) => {
    const result = await chain(noResult.s(3), mul.s(2)).applyAsync()
    t.equal(await result.get(T), 6)
    t.equal(await app.asyncResult(result.parent!.id).state(), 'PENDING', 'the ignored result was never stored')
  })

  t.test('ignoreResult - a step sent with ignoreResult hands its result to the next step', async (t) => {
    const result = await chain(add.s(3, 4).set({ ignoreResult: true }), echo.s()).applyAsync()
    t.equal(await result.get(T), 7)
    t.equal(await app.asyncResult(result.parent!.id).state(), 'PENDING', 'the ignored result was never stored')
  })

  t.test('ignoreResult - link callbacks get the result of a task sent with ignoreResult', async (t) => {
    const child = `link-${app.name}`
    const parent = await add.applyAsync([2, 2], { ignoreResult: true, link: mul.s(16).set({ taskId: child }) })
    t.equal(await app.asyncResult(child).get(T), 64)
    t.equal(await app.asyncResult(parent.id).state(), 'PENDING', 'the ignored result was never stored')
  })

  t.test('ignoreResult - a chord member that is a chain through an ignored result counts with its value', async (t) => {
    const result = await chord([chain(noResult.s(1), add.s(1)), add.s(2, 2)], xsum.s()).applyAsync()
    t.equal(await result.get(T), 6)
  })
}

for (const [where, fx] of [['memory://', memory], ['NATS', nats]] as const) {
  t.test(`on ${where}`, async (t) => {
    const node = fx.app.worker({ concurrency: 2 })
    await node.start()
    t.teardown(async () => {
      await node.stop()
      await fx.app.close()
    })
    cases(t, fx)
  })
}
