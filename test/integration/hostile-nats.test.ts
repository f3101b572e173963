/**
 * The hostile shapes of issue 19 against a `celeriac worker` in its own process on a real
 * nats-server: Node ends a process on an unhandled rejection or an uncaught exception, so a
 * worker process still up after every case is the process-level check. Messages with headers
 * NATS cannot parse are published raw, among valid tasks.
 */
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { encodeMessage } from '../../src/protocol/envelope.js'
import { msgpackCodec } from '../../src/serialization/codec.js'
import { Names } from '../../src/transport/nats/names.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { BAD_HEADERS, rawPublish } from '../helpers/raw-nats.js'
import { hostileCases } from './hostile.case.js'

type Fixture = typeof import('../fixtures/hostile-app.js')
const fixture = fileURLToPath(new URL('../fixtures/hostile-app.ts', import.meta.url))

let server: NatsServer
let f: Fixture
let worker: WorkerProcess

t.before(async () => {
  server = await startNatsServer()
  // The fixture reads its broker from the environment when imported, as a deployment would.
  process.env.CELERIAC_BROKER_URL = server.url
  process.env.CELERIAC_RESULT_BACKEND = 'nats://'
  f = await import('../fixtures/hostile-app.js')
  worker = await startWorkerProcess({ app: fixture, hostname: 'hostile@%h', args: ['-c', '2'], env: { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: 'nats://' } })
})
t.teardown(async () => {
  await worker?.stop('SIGKILL')
  await f?.app.close()
  await server?.cleanup()
})

const alive = () => {
  const { exitCode, signalCode } = worker.child
  if (exitCode !== null || signalCode !== null) throw new Error(`the worker process exited (${exitCode ?? signalCode}):\n${worker.output()}`)
}

hostileCases(t, {
  get app() {
    return f.app
  },
  queue: 'celery',
  alive,
})

t.test('messages with headers NATS cannot parse are dead-lettered alone; valid tasks around them succeed', async (t) => {
  const transport = await f.app.transport()
  const subject = new Names('celeriac').queueSubject('celery')
  const ids: string[] = []
  const valid = async (i: number) => {
    const id = `around-${i}-${process.pid}`
    ids.push(id)
    const body = encodeMessage({ headers: { id, task: 'h.add', retries: 0, rootId: id, contentType: 'application/x-msgpack' }, body: msgpackCodec.encode([[i, 1], null]) })
    await transport.publish({ exchange: '', routingKey: 'celery', body })
  }
  let i = 0
  for (const [name, block] of BAD_HEADERS) {
    await valid(i++)
    await rawPublish(server.url, subject, block, new TextEncoder().encode(name))
  }
  await valid(i++)
  t.same(await Promise.all(ids.map((id) => f.app.asyncResult(id).get({ timeout: 10 }))), ids.map((_, k) => k + 1), 'every valid task succeeds at once')
  const deadline = Date.now() + 10_000
  const ours = async () => (await f.app.deadLetters('celery')).filter((l) => l.reason.startsWith('unreadable NATS headers'))
  while ((await ours()).length < BAD_HEADERS.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  const letters = await ours()
  for (const [name, , reason] of BAD_HEADERS) {
    t.match(letters.find((l) => new TextDecoder().decode(l.body) === name), { reason }, name)
  }
  alive()
})
