import t from 'tap'
import { canvasOnNats } from '../helpers/canvas-node.js'
import { canvasCases } from './canvas.case.js'

const { fx, server } = await canvasOnNats(t, 'nats://')
const { app } = fx

canvasCases(t, fx)

t.test('on NATS: the fixture runs on the server started here', async (t) => {
  t.equal(app.conf.broker, server.url)
  t.equal((await app.backend()).kind, 'nats')
})

t.test('chords need a result backend that stores results: rpc:// is refused before sending', async (t) => {
  const { createApp, chord, GroupResult } = await import('../../src/index.js')
  const rpc = createApp({ name: 'canvas-rpc', broker: server.url, backend: 'rpc://' })
  t.teardown(() => rpc.close())
  const add = rpc.task('c.add', (x: number, y: number) => x + y)
  const xsum = rpc.task('c.xsum', (numbers: number[]) => numbers.reduce((a, b) => a + b, 0))
  await t.rejects(chord([add.s(1, 1)], xsum.s()).applyAsync(), { name: 'ConfigError', message: /chords need a result backend that stores results .* rpc:\/\/ does not/ })
  const members = new GroupResult('g-rpc', [rpc.asyncResult('a')])
  await t.rejects(members.save(), { name: 'ConfigError', message: /saving a group needs a result backend that stores results .* rpc:\/\/ only routes them/ }, 'a group saved on rpc:// could never be restored')
})

t.test('on NATS: a chord whose joined results are over max_payload fails its body instead of leaving it PENDING', async (t) => {
  const { chord } = await import('../../src/index.js')
  // Each member's result fits in a message; the list of both, the body's argument, does not.
  const big = 'x'.repeat(700_000)
  const result = await chord([fx.upper.s(big), fx.upper.s(big)], fx.count.s()).applyAsync()
  await t.rejects(result.get({ timeout: 20 }), { name: 'TransportError', message: /is over the NATS server's max_payload/ })
  t.equal(await result.state(), 'FAILURE')
})
