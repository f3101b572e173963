import t from 'tap'
import { fileURLToPath } from 'node:url'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { TaskState } from '../../src/index.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { lines, tempDir } from '../helpers/files.js'

type Fixture = typeof import('../fixtures/nats-app.js')
const fixture = fileURLToPath(new URL('../fixtures/nats-app.ts', import.meta.url))

let server: NatsServer
let f: Fixture
const workers: WorkerProcess[] = []

// Several worker processes start and stop here, seconds each on a busy 2-core machine.
t.setTimeout(150_000)

t.before(async () => {
  server = await startNatsServer()
  // The fixture reads its broker from the environment when imported, as a deployment would.
  process.env.CELERIAC_BROKER_URL = server.url
  f = await import('../fixtures/nats-app.js')
})
t.teardown(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')))
  await f?.app.close()
  await server?.cleanup()
})

function worker(hostname: string, args: string[]): Promise<WorkerProcess> {
  return startWorkerProcess({ app: fixture, hostname, args, env: { CELERIAC_BROKER_URL: server.url } }).then((w) => {
    workers.push(w)
    return w
  })
}

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

t.test('nats - two worker processes share a queue and each task runs once', async (t) => {
  const file = `${tempDir(t)}/runs`
  const [w1, w2] = await Promise.all([worker('share-1@%h', ['-c', '1', '-Q', 'share']), worker('share-2@%h', ['-c', '1', '-Q', 'share'])])
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => f.mark.applyAsync([file, `task-${i}`], { queue: 'share' })))
  const done = await Promise.all(results.map((r) => r.get({ timeout: 20 })))
  const labels = lines(file).map((l) => l.split(' ')[0])
  t.equal(labels.length, 40, 'forty runs')
  t.equal(new Set(labels).size, 40, 'no task ran twice')
  const hosts = new Set(done.map((d) => d.hostname.split('@')[0]))
  t.same([...hosts].sort(), ['share-1', 'share-2'], 'both processes took tasks')
  await Promise.all([w1.stop(), w2.stop()])
})

t.test('nats - topic exchange: feed.# takes feed and feed.a.b, not feedx', async (t) => {
  const file = `${tempDir(t)}/feed`
  const w = await worker('feed@%h', ['-c', '1', '-Q', 'feed'])
  const [a, b] = await Promise.all([
    f.mark.applyAsync([file, 'feed'], { exchange: 'news', routingKey: 'feed' }),
    f.mark.applyAsync([file, 'feed.a.b'], { exchange: 'news', routingKey: 'feed.a.b' }),
  ])
  t.match(await a.get({ timeout: 10 }), { queue: 'feed', routingKey: 'feed' })
  t.match(await b.get({ timeout: 10 }), { queue: 'feed', routingKey: 'feed.a.b' })
  const transport = await f.app.transport()
  const missed = await transport.publish({ exchange: 'news', routingKey: 'feedx', body: new Uint8Array([1]) })
  t.same(missed.queues, [], 'feedx reaches no queue')
  await w.stop()
})

t.test('nats - fanout: every bound queue gets one copy', async (t) => {
  const file = `${tempDir(t)}/fan`
  const w = await worker('fan@%h', ['-c', '2', '-Q', 'fan-a,fan-b'])
  await f.mark.applyAsync([file, 'hello'], { exchange: 'bcast', routingKey: 'anything' })
  await until(() => lines(file).length >= 2, 'two copies')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(lines(file).map((l) => l.split(' ').at(-1)).sort(), ['fan-a', 'fan-b'], 'one run per bound queue')
  await w.stop()
})

t.test('nats - a node killed with SIGKILL mid-task (acksLate) loses nothing; the task runs again elsewhere', async (t) => {
  const file = `${tempDir(t)}/killed`
  const w1 = await worker('doomed@%h', ['-c', '1', '-Q', 'kill'])
  const result = await f.slowLate.applyAsync([1500, file], { queue: 'kill' })
  await until(() => lines(file).some((l) => l.startsWith('start doomed')), 'the task to start on the first node')
  t.equal(await w1.stop('SIGKILL'), 'SIGKILL')
  const w2 = await worker('survivor@%h', ['-c', '1', '-Q', 'kill'])
  const ranOn = await result.get({ timeout: 20 })
  t.match(ranOn, /^survivor@/)
  t.same(lines(file).map((l) => l.split(' ').slice(0, 2).join(' ').replace(/@.*/, '')), ['start doomed', 'start survivor', 'end survivor'])
  t.equal(await result.state(), TaskState.SUCCESS)
  await w2.stop()
})

t.test('nats - a nats-server restart mid-run loses no queued or delayed task', async (t) => {
  const file = `${tempDir(t)}/restart`
  const w = await worker('restart@%h', ['-c', '1', '-Q', 'restart'])
  const sent = []
  for (let i = 0; i < 20; i++) sent.push(await f.mark.applyAsync([file, `now-${i}`], { queue: 'restart' }))
  for (let i = 0; i < 5; i++) sent.push(await f.mark.applyAsync([file, `later-${i}`], { queue: 'restart', countdown: 2 }))
  await server.restart()
  const done = await Promise.all(sent.map((r) => r.get({ timeout: 30 })))
  t.equal(done.length, 25)
  const labels = lines(file).map((l) => l.split(' ')[0])
  const missing = sent.map((_, i) => (i < 20 ? `now-${i}` : `later-${i - 20}`)).filter((label) => !labels.includes(label))
  t.same(missing, [], 'every task ran')
  t.comment(`runs: ${labels.length} for 25 tasks (at-least-once: an ack lost in the restart may repeat one)`)
  await w.stop()
})

t.test('nats - an eta task 3 s ahead runs once, after its worker restarts', async (t) => {
  const file = `${tempDir(t)}/eta`
  const w1 = await worker('eta-1@%h', ['-c', '1', '-Q', 'eta'])
  const eta = new Date(Date.now() + 3000)
  const result = await f.stamp.applyAsync([file], { queue: 'eta', eta })
  await w1.stop('SIGTERM')
  const w2 = await worker('eta-2@%h', ['-c', '1', '-Q', 'eta'])
  const ranAt = await result.get({ timeout: 20 })
  t.ok(ranAt >= eta.getTime(), `ran ${ranAt - eta.getTime()} ms after its eta`)
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(lines(file).length, 1, 'ran once')
  await w2.stop()
})

t.test('nats - a dead-lettered message keeps its reason', async (t) => {
  const w = await worker('dlq@%h', ['-c', '1', '-Q', 'dlq'])
  const transport = await f.app.transport()
  await transport.declareQueue({ name: 'dlq' })
  await transport.publish({ exchange: '', routingKey: 'dlq', body: new Uint8Array([0xc1, 0xff, 0x00, 0x13]) })
  let reasons: string[] = []
  for (let i = 0; i < 100 && reasons.length === 0; i++) {
    reasons = (await transport.deadLetters('dlq')).map((dl) => dl.reason)
    if (reasons.length === 0) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.same(reasons, ['undecodable: undecodable task message: 4 bytes is too short for a frame'])
  t.equal(await (await f.add.applyAsync([1, 2], { queue: 'dlq' })).get({ timeout: 10 }), 3, 'the node keeps serving')
  await w.stop()
})

t.test('nats - a revoke is seen by a node started after it: the task never runs', async (t) => {
  const file = `${tempDir(t)}/revoked`
  const result = await f.stamp.applyAsync([file], { queue: 'revoke' })
  await result.revoke()
  const w = await worker('late@%h', ['-c', '1', '-Q', 'revoke'])
  await t.rejects(result.get({ timeout: 15 }), { name: 'TaskRevokedError' })
  t.equal(await result.state(), TaskState.REVOKED)
  t.same(lines(file), [], 'never ran')
  await w.stop()
})

t.test('nats - task events from a worker process reach a subscriber in another process', async (t) => {
  const stream = f.app.events.subscribe('task-*')
  await stream.ready
  const w = await worker('events@%h', ['-c', '1', '-Q', 'events', '-E'])
  const result = await f.add.applyAsync([20, 22], { queue: 'events' })
  const seen: string[] = []
  for await (const event of stream) {
    if (!('uuid' in event) || event.uuid !== result.id) continue
    seen.push(`${event.type} ${event.hostname.split('@')[0]}`)
    if (event.type === 'task-succeeded') break
  }
  t.same(seen, ['task-received events', 'task-started events', 'task-succeeded events'])
  t.equal(await result.get({ timeout: 10 }), 42)
  await w.stop()
})
