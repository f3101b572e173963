import t from 'tap'
import { startNatsServer } from '../../src/testing/nats-server.js'

// rpc:// with a real worker: results that arrive before get() is called are not lost, as with
// Celery's reply queue. The fixture reads its broker and backend when first imported.
const server = await startNatsServer()
process.env.CANVAS_BROKER_URL = server.url
process.env.CANVAS_RESULT_BACKEND = 'rpc://'
const { app, add, mul } = await import('../fixtures/canvas-app.js')
const { chain } = await import('../../src/index.js')
const node = app.worker({ concurrency: 2 })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
  await server.cleanup()
})

t.test('rpc:// - results of tasks that finished before get() was called are all there', async (t) => {
  t.equal((await app.backend()).kind, 'rpc')
  const before = node.processed
  const sent = await Promise.all(Array.from({ length: 200 }, (_, i) => add.delay(i, i)))
  // Every task has run (and sent its result) before the first get().
  while (node.processed < before + 200) await new Promise((resolve) => setImmediate(resolve))
  t.same(await Promise.all(sent.map((r) => r.get({ timeout: 5 }))), Array.from({ length: 200 }, (_, i) => 2 * i))
})

t.test('rpc:// - a chain sends every step to the first one\'s sender', async (t) => {
  const result = await chain(add.s(2, 2), mul.s(10), mul.s(2)).applyAsync()
  t.equal(await result.get({ timeout: 5 }), 80)
})
