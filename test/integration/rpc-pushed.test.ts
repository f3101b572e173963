import t from 'tap'
import { createServer } from 'node:net'
import { startNatsServer } from '../../src/testing/nats-server.js'

// rpc:// delivers a task's records to the process that sent it, on its one reply subject. A
// get() of such a task waits on what arrives there: it opens no subscription of its own on the
// server (it used to open one per result, with a PING to confirm it, and close it after).

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

const monitor = await freePort()
const server = await startNatsServer({ args: ['-m', String(monitor)] })
process.env.CANVAS_BROKER_URL = server.url
process.env.CANVAS_RESULT_BACKEND = 'rpc://'
const { app, add } = await import('../fixtures/canvas-app.js')
const node = app.worker({ concurrency: 2 })
t.teardown(async () => {
  await node.stop()
  await app.close()
  await server.cleanup()
})

async function subscriptions(): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${monitor}/subsz`)
  return ((await response.json()) as { num_subscriptions: number }).num_subscriptions
}

t.test('rpc:// - waiting on 100 results adds no subscription on the server, and every result comes', async (t) => {
  const backend = await app.backend()
  t.equal(backend.kind, 'rpc')
  // Connected, its reply subject subscribed, the queue declared (a first send): what the waits
  // below add is on top of this.
  await backend.connect()
  const first = await add.delay(0, 0)
  const before = await subscriptions()
  const sent = await Promise.all(Array.from({ length: 100 }, (_, i) => add.delay(i, 1)))
  // No worker yet: every get() is waiting when the server is asked.
  const results = sent.map((r) => r.get({ timeout: 10 }))
  // A watch of our own resolves once the server has its subscription, and so every one sent
  // before it on the same connection: a latch for whatever the get()s subscribed to.
  await new Promise((resolve) => setImmediate(resolve))
  const unwatch = await backend.watch('latch', () => {})
  const waiting = await subscriptions()
  unwatch()
  t.ok(waiting - before <= 2, `subscriptions while 100 get()s wait: ${before} before, ${waiting} during (1 is the latch's)`)
  await node.start()
  t.same(await Promise.all(results), Array.from({ length: 100 }, (_, i) => i + 1), 'each get() has its task\'s result')
  t.equal(await first.get({ timeout: 5 }), 0, 'and the first task\'s, sent before any get()')
})
