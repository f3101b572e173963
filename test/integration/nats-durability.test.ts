// Issue 13: a nats-server SIGKILLed and restarted (same port, same store) mid-run, with acksLate
// and delayed tasks in flight. Every task ends SUCCESS in the result backend (none PENDING),
// and no delayed task runs before its ETA.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { TaskState } from '../../src/index.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { lines, tempDir } from '../helpers/files.js'

type Fixture = typeof import('../fixtures/durability-app.js')
const fixture = fileURLToPath(new URL('../fixtures/durability-app.ts', import.meta.url))

let server: NatsServer
let f: Fixture
const workers: WorkerProcess[] = []

t.before(async () => {
  server = await startNatsServer()
  process.env.CELERIAC_BROKER_URL = server.url
  f = await import('../fixtures/durability-app.js')
})
t.teardown(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')))
  await f?.app.close()
  await server?.cleanup()
})

t.test('a nats-server SIGKILL mid-run loses no result; delayed tasks run once their ETA has passed', async (t) => {
  const file = `${tempDir(t)}/runs`
  const w = await startWorkerProcess({ app: fixture, hostname: 'dur@%h', args: ['-c', '4', '-Q', 'durable'], env: { CELERIAC_BROKER_URL: server.url } })
  workers.push(w)
  const total = 300
  const eta = new Map<number, number>()
  const sent = await Promise.all(
    Array.from({ length: total }, (_, i) => {
      if (i % 3 !== 0) return f.work.applyAsync([i, 10, file], { queue: 'durable' })
      // A third delayed, due from before the kill to after the restart.
      const at = Date.now() + 500 + (i % 7) * 400
      eta.set(i, at)
      return f.work.applyAsync([i, 10, file], { queue: 'durable', eta: new Date(at) })
    }),
  )
  while (lines(file).length < 60) await new Promise((resolve) => setTimeout(resolve, 10))
  await server.restart('SIGKILL')
  const results = await Promise.all(sent.map((r) => r.get({ timeout: 60 })))
  t.same(results, Array.from({ length: total }, (_, i) => i), 'every task returned its result')
  const backend = await f.app.backend()
  const states = await Promise.all(sent.map(async (r) => (await backend.get(r.id))?.state))
  t.same(states.filter((s) => s !== TaskState.SUCCESS), [], 'every task is SUCCESS in the result backend: none PENDING')
  const runs = lines(file).map((l) => l.split(' ').map(Number))
  t.equal(new Set(runs.map(([i]) => i)).size, total, 'every task ran')
  const early = runs.filter(([i, , at]) => eta.has(i) && at < eta.get(i)!)
  t.same(early, [], 'no delayed task ran before its ETA')
  const count = new Map<number, number>()
  for (const [i] of runs) count.set(i, (count.get(i) ?? 0) + 1)
  const repeated = [...count].filter(([, n]) => n > 1).map(([i]) => i)
  t.comment(`${runs.length} executions for ${total} tasks; run more than once: ${repeated.length} (${repeated.filter((i) => eta.has(i)).length} of them delayed)`)
  await w.stop()
})

t.test('replicas on a single server: 1 by default; more is a ConfigError that says how to fix it', async (t) => {
  const { NatsTransport } = await import('../../src/transport/nats/nats-transport.js')
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const { ConfigError } = await import('../../src/index.js')
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const plain = new NatsTransport({ url: server.url, prefix: 'rone' })
  await plain.connect()
  await plain.declareQueue({ name: 'q' })
  await plain.close()
  t.equal((await (await jetstreamManager(nc)).streams.info('RONE_Q_q')).config.num_replicas, 1, 'R1 on a single server')
  const three = new NatsTransport({ url: server.url, prefix: 'rthree', replicas: 3 })
  const { server_name, host, port } = nc.info!
  await t.rejects(
    three.connect(),
    new ConfigError(
      `natsReplicas is 3, but the NATS server ${server_name} at ${host}:${port} is not in a cluster, where JetStream keeps one copy: ` +
        'set natsReplicas (CELERIAC_NATS_REPLICAS) to 1 or leave it unset, or connect to a cluster of at least that many JetStream servers',
    ),
  )
})

t.test('a queue consumer deleted from under a node is created again, and the node goes on', async (t) => {
  const { NatsTransport } = await import('../../src/transport/nats/nats-transport.js')
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const quiet = { debug() {}, info() {}, warn() {}, error() {} }
  const transport = new NatsTransport({ url: server.url, prefix: 'recreate', logger: quiet as never })
  await transport.connect()
  t.teardown(() => transport.close())
  await transport.declareQueue({ name: 'q', ackWaitMs: 7_000 })
  const got: number[] = []
  const consumer = transport.consume('q', (d) => {
    got.push(d.body[0])
    d.ack()
  })
  consumer.pull(10)
  t.teardown(() => consumer.close())
  await transport.publish({ exchange: '', routingKey: 'q', body: new Uint8Array([1]) })
  while (got.length < 1) await new Promise((resolve) => setTimeout(resolve, 20))
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  // nats-server 2.9.10 sometimes refuses a delete racing its own write of the consumer's state
  // ("unlinkat ... directory not empty"): ask again.
  for (let tries = 1; ; tries++) {
    try {
      await jsm.consumers.delete('RECREATE_Q_q', 'workers')
      break
    } catch (error) {
      if (tries >= 20) throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  await transport.publish({ exchange: '', routingKey: 'q', body: new Uint8Array([2]) })
  for (const deadline = Date.now() + 15_000; got.length < 2 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(got, [1, 2], 'the message sent after the deletion is delivered')
  t.equal((await jsm.consumers.info('RECREATE_Q_q', 'workers')).config.ack_wait, 7_000_000_000, 'made again with the ack wait the queue had')
})
