import t from 'tap'
import { startNatsServer } from '../../src/testing/nats-server.js'
import { canvasCases } from './canvas.case.js'

// The fixture reads its broker from the environment when first imported, as worker threads do.
const server = await startNatsServer()
process.env.CANVAS_BROKER_URL = server.url
process.env.CANVAS_RESULT_BACKEND = 'nats://'
const fx = await import('../fixtures/canvas-app.js')
const { app } = fx
const node = app.worker({ concurrency: 2 })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
  await server.cleanup()
})

canvasCases(t, fx)

t.test('on NATS: the fixture runs on the server started here', async (t) => {
  t.equal(app.conf.broker, server.url)
  t.equal((await app.backend()).kind, 'nats')
})

t.test('chords need a result backend that stores results: rpc:// is refused before sending', async (t) => {
  const { createApp, chord } = await import('../../src/index.js')
  const rpc = createApp({ name: 'canvas-rpc', broker: server.url, backend: 'rpc://' })
  t.teardown(() => rpc.close())
  const add = rpc.task('c.add', (x: number, y: number) => x + y)
  const xsum = rpc.task('c.xsum', (numbers: number[]) => numbers.reduce((a, b) => a + b, 0))
  await t.rejects(chord([add.s(1, 1)], xsum.s()).applyAsync(), { name: 'ConfigError', message: /chords need a result backend that stores results .* rpc:\/\/ does not/ })
})
