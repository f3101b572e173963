// An outside audit of rpc://: a result over the server's max_payload was never sent, and the
// caller's get() waited for ever (or until its timeout). The worker now sends a FAILURE saying why.
import t from 'tap'
import { BackendError, TaskState } from '../../src/index.js'
import { startNatsServer } from '../../src/testing/nats-server.js'

const server = await startNatsServer()
process.env.RPC_LARGE_BROKER_URL = server.url
const { app, big } = await import('../fixtures/rpc-large-app.js')
const node = app.worker({ concurrency: 1, hostname: 'rpc-large@%h' })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
  await server.cleanup()
})

t.test('rpc:// - a result over max_payload: get() rejects at once, saying why', async (t) => {
  t.equal((await app.backend()).kind, 'rpc')
  const result = await big.delay(2_000_000)
  const started = Date.now()
  const error = await result.get({ timeout: 8 }).then(() => undefined, (e: unknown) => e)
  t.type(error, BackendError)
  t.match((error as Error).message, new RegExp(`^the result of task ${result.id} is 2000\\d{3} bytes, over the server's max_payload of 1048576; rpc:// cannot carry it, use the nats:// result backend$`))
  t.ok(Date.now() - started < 4000, 'at once, not at the timeout')
  t.equal(await result.state(), TaskState.FAILURE)
  t.equal(await (await big.delay(5)).get({ timeout: 5 }), 'xxxxx', 'the next result comes as usual')
})
