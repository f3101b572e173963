import t from 'tap'
import { chain } from '../../src/index.js'
import { canvasOnNats } from '../helpers/canvas-node.js'

// rpc:// with a real worker: results that arrive before get() is called are not lost, as with
// Celery's reply queue.
const { fx, node } = await canvasOnNats(t, 'rpc://')
const { app, add, mul } = fx

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
