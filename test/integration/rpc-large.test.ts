// An outside audit of rpc://: a result over the server's max_payload was never sent, and the
// caller's get() waited for ever (or until its timeout). The worker now sends a FAILURE saying why.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { BackendError, TaskState } from '../../src/index.js'
import { startNatsServer } from '../../src/testing/nats-server.js'
import { startWorkerProcess } from '../helpers/worker-process.js'

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

t.test('rpc:// client, nats:// worker - a large result the worker put in its object store fails get() saying why, not undefined', async (t) => {
  const worker = await startWorkerProcess({
    app: fileURLToPath(new URL('../fixtures/rpc-large-app.ts', import.meta.url)),
    hostname: 'kv-side@%h',
    args: ['-c', '1', '-Q', 'kv-side'],
    env: { RPC_LARGE_BROKER_URL: server.url, RPC_LARGE_BACKEND: 'nats://' },
  })
  t.teardown(() => worker.stop())
  const result = await big.applyAsync([2_000_000], { queue: 'kv-side' })
  const error = await result.get({ timeout: 20 }).then(() => undefined, (e: unknown) => e)
  t.type(error, BackendError)
  t.match((error as Error).message, `task ${result.id}'s result (2000`)
  t.match((error as Error).message, "is in the nats:// result store of the worker that ran it, which this app's rpc:// backend cannot read")
  t.equal(await (await big.applyAsync([3], { queue: 'kv-side' })).get({ timeout: 20 }), 'xxx', 'a small result still comes through')
})
