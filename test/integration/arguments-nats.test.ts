// Issue 18 as the user first met it: `celeriac call add -k '{"x":1,"y":2}'` on NATS returned
// "[object Object]undefined". A real nats-server, a real worker process, the real CLI.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { createApp, InvalidArgumentError, TaskState, type App } from '../../src/index.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { celeriac } from '../helpers/cli.js'

const fixture = fileURLToPath(new URL('../fixtures/nats-app.ts', import.meta.url))

let server: NatsServer
let worker: WorkerProcess
let client: App
let env: Record<string, string>

t.before(async () => {
  server = await startNatsServer()
  env = { CELERIAC_BROKER_URL: server.url }
  worker = await startWorkerProcess({ app: fixture, hostname: 'args-nats@%h', args: ['-c', '1'], env })
  // Knows no task: what it sends is checked by the worker only.
  client = createApp({ name: 'natsfix', broker: server.url, backend: 'nats://' })
})
t.teardown(async () => {
  await worker?.stop('SIGKILL')
  await client?.close()
  await server?.cleanup()
})

t.test('cli nats - call -k binds kwargs by parameter name; result prints the sum', async (t) => {
  const call = await celeriac(['call', 'n.add', '-k', '{"x":1,"y":2}', '-A', fixture], env)
  t.equal(call.code, 0, call.stderr)
  const result = await celeriac(['result', call.stdout.trim(), '--timeout', '20', '-A', fixture], env)
  t.same([result.code, result.stdout], [0, '3\n'])
  const refused = await celeriac(['call', 'n.add', '-k', '{"x":1,"z":2}', '-A', fixture], env)
  t.equal(refused.code, 1, 'a call the task cannot take is refused before it is sent')
  t.match(refused.stderr, "n.add got an unexpected keyword argument 'z'")
})

t.test('worker nats - a keyword that repeats a positional argument: FAILURE, InvalidArgumentError, no retry', async (t) => {
  const result = await client.sendTask('n.add', [1], { kwargs: { x: 2 } })
  const error = await result.get({ timeout: 20, propagate: false })
  t.type(error, InvalidArgumentError)
  t.equal((error as Error).message, "n.add got multiple values for argument 'x'")
  t.equal(await result.state(), TaskState.FAILURE)
  t.equal((await (await client.backend()).get(result.id))?.retries, 0)
  t.equal(await (await client.sendTask('n.add', [], { kwargs: { y: 1, x: 41 } })).get({ timeout: 20 }), 42, 'the worker keeps serving')
})

t.test('client nats - an app with the broker and no backend is told, in the log and in a get() timeout, why results never come', async (t) => {
  const warnings: string[] = []
  const logger = { debug() {}, info() {}, error() {}, warn: (message: string) => void warnings.push(message) }
  // A Celery user sets the broker and expects results to follow; the default backend is this process's.
  const stranded = createApp({ name: 'natsfix', broker: server.url, logger })
  t.teardown(() => stranded.close())
  const sent = await stranded.sendTask('n.add', [1, 2])
  const error = await sent.get({ timeout: 1 }).catch((e: unknown) => e as Error)
  t.match(error, { name: 'TimeoutError', message: /not ready after 1s: this app keeps results in this process \(backend memory:\/\/\) while its tasks go to nats:\/\/127\.0\.0\.1:\d+, and no worker runs here: .* createApp\(\{ backend: 'nats:\/\/' \}\)$/ })
  await sent.get({ timeout: 0.1 }).catch(() => undefined)
  t.equal(warnings.filter((w) => w.startsWith('this app keeps results in this process')).length, 1, 'logged once')
  t.equal(await client.asyncResult<number>(sent.id).get({ timeout: 20 }), 3, 'the worker ran it and stored the result in its own backend')
})
