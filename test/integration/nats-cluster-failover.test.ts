// Issue 13: a real 3-node JetStream cluster. Streams, buckets and the queue's consumer are R3;
// losing the leader of the queue's stream mid-run loses no task and the run finishes while the
// server stays down; the server rejoins when it comes back.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { startNatsCluster, type NatsCluster } from '../../src/testing/nats-server.js'
import { TaskState } from '../../src/index.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { lines, tempDir } from '../helpers/files.js'

type Fixture = typeof import('../fixtures/durability-app.js')
const fixture = fileURLToPath(new URL('../fixtures/durability-app.ts', import.meta.url))

let cluster: NatsCluster
let f: Fixture
let nc: NatsConnection
let jsm: JetStreamManager
let w: WorkerProcess
// A cluster of three servers and one worker process take a while to start on a busy machine.
t.setTimeout(90_000)

t.before(async () => {
  cluster = await startNatsCluster(3)
  process.env.CELERIAC_BROKER_URL = cluster.url
  f = await import('../fixtures/durability-app.js')
  nc = await connect({ servers: cluster.url.slice('nats://'.length).split(','), maxReconnectAttempts: -1 })
  jsm = await jetstreamManager(nc)
})
t.teardown(async () => {
  await w?.stop('SIGKILL')
  await f?.app.close()
  await nc?.close()
  await cluster?.cleanup()
})

const QUEUE = 'failover'
const STREAM = 'CELERIAC_Q_failover'

t.test('streams, buckets and the queue consumer are created R3 on a 3-node cluster', async (t) => {
  // One worker for the file, connected to all three servers, as a deployment's would be.
  w = await startWorkerProcess({ app: fixture, hostname: 'fo@%h', args: ['-c', '4', '-Q', QUEUE], env: { CELERIAC_BROKER_URL: cluster.url } })
  t.equal(await (await f.work.applyAsync([0, 0, ''], { queue: QUEUE })).get({ timeout: 20 }), 0)
  for (const stream of [STREAM, 'CELERIAC_DLQ', 'KV_celeriac-topology', 'KV_celeriac-results']) {
    const info = await jsm.streams.info(stream)
    t.equal(info.config.num_replicas, 3, `${stream} has 3 replicas`)
    t.equal(info.cluster?.replicas?.length, 2, `${stream} has a leader and two followers`)
  }
  const consumer = await jsm.consumers.info(STREAM, 'workers')
  t.equal(consumer.cluster?.replicas?.length, 2, 'the shared consumer is replicated with its stream')
})

t.test('an R1 queue made before is scaled to R3 in place when declared again', async (t) => {
  const { NatsTransport } = await import('../../src/transport/nats/nats-transport.js')
  const before = new NatsTransport({ url: cluster.url, prefix: 'scale', replicas: 1 })
  await before.connect()
  await before.declareQueue({ name: 'q' })
  await before.close()
  t.equal((await jsm.streams.info('SCALE_Q_q')).config.num_replicas, 1, 'made with one copy')
  const warnings: string[] = []
  const onWarning = (warning: Error & { code?: string }) => void (warning.code === 'CELERIAC_REPLICAS' && warnings.push(warning.message))
  process.on('warning', onWarning)
  t.teardown(() => void process.off('warning', onWarning))
  const after = new NatsTransport({ url: cluster.url, prefix: 'scale' })
  await after.connect()
  await after.declareQueue({ name: 'q' })
  await after.close()
  // Docs audit: one worker set differently scaled every shared stream, without a word.
  t.ok(warnings.some((m) => m.startsWith('queue "q" (stream SCALE_Q_q) had 1 replica(s) and now has 3')), `a warning says so: ${JSON.stringify(warnings)}`)
  t.equal((await jsm.streams.info('SCALE_Q_q')).config.num_replicas, 3, 'three copies once declared by a default transport')
  t.equal((await jsm.streams.info('KV_scale-topology')).config.num_replicas, 3, 'its topology bucket too')
})

t.test('killing the leader of the queue stream mid-run loses no task; the run ends while it is down; it rejoins', async (t) => {
  const file = `${tempDir(t)}/runs`
  const total = 200
  const sent = await Promise.all(Array.from({ length: total }, (_, i) => f.work.applyAsync([i, 40, file], { queue: QUEUE })))
  // Mid-run: some done, most still queued.
  while (lines(file).length < 30) await new Promise((resolve) => setTimeout(resolve, 20))
  const leader = (await jsm.streams.info(STREAM)).cluster?.leader
  t.ok(leader, 'the stream has a leader')
  const victim = cluster.node(leader!)
  await victim.kill('SIGKILL')
  const killedAt = Date.now()
  // Sent while the stream has no leader: each publish waits for the new one; none fails or is lost.
  const during = await Promise.all(Array.from({ length: 20 }, (_, i) => f.work.applyAsync([total + i, 40, file], { queue: QUEUE })))
  t.comment(`20 sends while the stream had no leader returned ${Date.now() - killedAt} ms after the kill`)
  const all = [...sent, ...during]
  const settled = await Promise.allSettled(all.map((r) => r.get({ timeout: 45 })))
  t.comment(`all ${all.length} settled ${Date.now() - killedAt} ms after ${victim.name} (the stream leader) was killed`)
  t.notOk(victim.running, 'the killed server stayed down for the whole run')
  // A worker tells the sender a result as it writes it; the write itself may still be waiting
  // for the results bucket's new leader: every record must get there.
  const storedBy = Date.now() + 30_000
  let pending = all
  while (pending.length > 0 && Date.now() < storedBy) {
    const states = await Promise.all(pending.map((r) => r.state().catch(() => undefined)))
    pending = pending.filter((_, i) => states[i] !== TaskState.SUCCESS)
    if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 200))
  }
  t.equal(pending.length, 0, 'every task is SUCCESS in the result backend')
  // And the sender heard of each (pushed, or through its watch after a reconnect).
  const missed = settled.flatMap((r, i) => (r.status === 'fulfilled' && r.value === i ? [] : [`${i}: ${r.status === 'rejected' ? (r.reason as Error).message : String(r.value)}`]))
  t.same(missed, [], 'every get() returned its result')
  const ran = new Set(lines(file).map((l) => Number(l.split(' ')[0])))
  t.equal(ran.size, all.length, 'every task ran, those sent during the election too')
  t.comment(`executions: ${lines(file).length} for ${all.length} tasks`)

  await victim.start()
  const deadline = Date.now() + 20_000
  for (;;) {
    // The cluster may take a moment to answer while the node catches up: ask again.
    const cluster = (await jsm.streams.info(STREAM).catch(() => undefined))?.cluster
    const replicas = cluster?.replicas ?? []
    const back = replicas.find((r) => r.name === victim.name)
    // Back as a current follower, or elected leader again (the leader is not in the list).
    if ((back?.current === true && !back.offline) || cluster?.leader === victim.name) break
    if (Date.now() > deadline) throw new Error(`${victim.name} did not rejoin: ${JSON.stringify(replicas)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.pass(`${victim.name} rejoined the stream as a current replica`)
  t.equal(await (await f.work.applyAsync([all.length, 0, ''], { queue: QUEUE })).get({ timeout: 20 }), all.length, 'work goes on after it rejoined')
})
