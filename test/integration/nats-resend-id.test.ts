import t from 'tap'
import { natsServerAvailable, startNatsServer } from '../../src/testing/index.js'

// Celery and hostile-input audits: re-sending a task id that was already sent (an idempotent
// retry of a request that uses its own key as the id) is dropped by the broker's duplicate
// window, as documented, but the second handle's get() waited for a pushed record that no
// worker would push: 10 s to a timeout, or for ever without one. It now reads the stored one.
t.test('a re-sent task id: the second handle gets the first run\'s result at once', { skip: natsServerAvailable() ? false : 'needs nats-server (apt-get install nats-server)' }, async (t) => {
  const nats = await startNatsServer()
  t.teardown(() => nats.cleanup())
  process.env.CELERIAC_BROKER_URL = nats.url
  const { app, add } = await import('../fixtures/nats-app.js')
  const node = app.worker({ concurrency: 1 })
  t.teardown(async () => {
    await node.stop()
    await app.close()
  })
  await node.start()
  const taskId = `order-${process.pid}`
  const first = await add.applyAsync([1, 2], { taskId })
  t.equal(await first.get({ timeout: 10 }), 3)

  const again = await add.applyAsync([2, 2], { taskId })
  const started = performance.now()
  t.equal(await again.get({ timeout: 5 }), 3, "the broker dropped the re-send: the first run's result")
  t.ok(performance.now() - started < 2_000, `read at once, not after a wait for a push (${Math.round(performance.now() - started)} ms)`)

  // Sent twice before either ran: one run, both handles resolve to it.
  const both = `both-${process.pid}`
  const [a, b] = await Promise.all([add.applyAsync([5, 5], { taskId: both }), add.applyAsync([5, 5], { taskId: both })])
  t.same(await Promise.all([a.get({ timeout: 5 }), b.get({ timeout: 5 })]), [10, 10])
})
