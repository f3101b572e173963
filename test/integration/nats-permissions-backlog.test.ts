import t from 'tap'
import { createApp } from '../../src/index.js'
import type { NatsRole } from '../../src/nats/index.js'
import { keepingLogger, serverWithRoles } from '../helpers/nats-config.js'
import { parsePrometheus, sample } from '../fixtures/obs-prometheus.js'
import { until } from '../helpers/until.js'
import { app as workerApp } from '../fixtures/backlog-app.js'

// Each role of docs/production.md doing what the page says it does while its queue holds
// ready (undelivered) messages, against a server that grants it exactly natsPermissions(role):
// reading the depth and age of a queue then needs more than it does on an empty queue (the
// messages themselves), which is where the published permissions once fell short.
const users: Array<[string, NatsRole, { inboxPrefix?: string }]> = [
  ['worker', 'worker', {}],
  ['client', 'client', { inboxPrefix: '_INBOX.client' }],
  ['beat', 'beat', {}],
  ['monitor', 'monitor', { inboxPrefix: '_INBOX.monitor' }],
]
const { server, as } = await serverWithRoles(t, users)

const refusals = (log: { warnings: string[] }) => log.warnings.filter((line) => /refused/.test(line))

// One thread, one task at a time: the node holds only the task it runs, so while a nap runs
// the tasks behind it wait in the stream, undelivered. Acks late: the running nap stays
// unacked, in flight, which the figures read message by message to tell from a delayed one.
const workerLog = keepingLogger()
workerApp.conf.update({ broker: as('worker'), backend: 'nats://', workerSendTaskEvents: true, taskAcksLate: true })
workerApp.useLogger(workerLog)
const node = workerApp.worker({ concurrency: 1, tasksPerThread: 1, hostname: 'backlog@test', metrics: { port: 0, host: '127.0.0.1' }, tracing: false })
await node.start()
t.teardown(async () => {
  await node.stop()
  await workerApp.close()
})

const schedule = { beatSchedule: { tick: { task: 'b.add', args: [1, 2], schedule: 0.2 } } }
const clientLog = keepingLogger()
const client = createApp({ name: 'backlog', broker: as('client'), backend: 'nats://', logger: clientLog, config: { natsInboxPrefix: '_INBOX.client' } })
t.teardown(() => client.close())

/** Fills the queue once the worker is idle: one long nap on its only thread, `ready` tasks behind it. */
async function backlog(ready: number, napMs: number) {
  await idle()
  const running = await client.sendTask('b.nap', [napMs])
  await until(() => node.active, (n) => n === 1, 'the nap to start')
  const waiting = await Promise.all(Array.from({ length: ready }, (_, i) => client.sendTask('b.add', [i, 1])))
  return { running, waiting }
}

/** Resolves once the worker has run nothing for 300 ms: what earlier tests sent is done. */
async function idle() {
  for (let last = -1; last !== node.processed || node.active > 0;) {
    last = node.processed
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
}

t.test('permissions with a backlog - worker: queue depth and age metrics have samples, nothing refused', async (t) => {
  const { running, waiting } = await backlog(3, 1_500)
  await new Promise((resolve) => setTimeout(resolve, 100))
  const samples = parsePrometheus(await (await fetch(node.endpoints.metrics!)).text())
  const state = (s: string) => sample(samples, 'celeriac_queue_messages', { queue: 'celery', state: s })
  t.equal(state('ready'), 3, 'ready')
  t.equal(state('in_flight'), 1, 'in flight: the nap')
  t.equal(state('delayed'), 0, 'delayed')
  const age = sample(samples, 'celeriac_queue_oldest_message_age_seconds', { queue: 'celery' })
  t.ok(age !== undefined && age > 0, `the oldest ready message has an age (${age} s)`)
  t.same(refusals(workerLog), [], 'the worker logged no refusal')
  t.equal(await running.get({ timeout: 10 }), 1_500)
  t.same(await Promise.all(waiting.map((sent) => sent.get({ timeout: 10 }))), [1, 2, 3], 'the backlog runs')
})

t.test('permissions with a backlog - client and beat send, and their results come back', async (t) => {
  const { running, waiting } = await backlog(2, 800)
  t.equal(await (await client.sendTask('b.add', [20, 22])).get({ timeout: 10 }), 42, 'client: a task sent behind the backlog')
  const beatApp = createApp({ name: 'backlog', broker: as('beat'), backend: 'nats://', config: schedule })
  const before = node.processed
  const beat = beatApp.beat()
  await beat.start()
  await until(() => node.processed, (n) => n >= before + 2, 'two beat ticks to run')
  await beat.stop()
  await beatApp.close()
  t.equal(await running.get({ timeout: 10 }), 800)
  t.same(await Promise.all(waiting.map((sent) => sent.get({ timeout: 10 }))), [1, 2])
  t.same(refusals(clientLog), [], 'the client logged no refusal')
})

t.test('permissions with a backlog - monitor: the read-only dashboard shows the queue, the beat, no refusal', async (t) => {
  const monitorLog = keepingLogger()
  const monitor = createApp({ name: 'backlog', broker: as('monitor'), backend: 'nats://', logger: monitorLog, config: { natsInboxPrefix: '_INBOX.monitor', ...schedule } })
  const dashboard = monitor.dashboard({ readOnly: true })
  t.teardown(async () => {
    await dashboard.close()
    await monitor.close()
  })
  await dashboard.dashboard
  const get = async (path: string) => {
    const response = await dashboard.fetch(new Request(`http://127.0.0.1:5555${path}`))
    return { status: response.status, body: (await response.json()) as any }
  }
  const { running, waiting } = await backlog(3, 1_500)
  await new Promise((resolve) => setTimeout(resolve, 100))
  const queues = await get('/api/queues')
  t.equal(queues.status, 200, `/api/queues answers: ${JSON.stringify(queues.body)}`)
  t.match(queues.body.queues?.find((row: { name: string }) => row.name === 'celery'), { ready: 3, inFlight: 1, delayed: 0 }, 'the queue row')
  const row = queues.body.queues?.find((row: { name: string }) => row.name === 'celery')
  t.ok(row?.oldestAgeSeconds > 0, `the oldest ready message has an age (${row?.oldestAgeSeconds} s)`)
  const lengths = await get('/api/queues/length')
  t.equal(lengths.status, 200, `/api/queues/length answers: ${JSON.stringify(lengths.body)}`)
  t.match(lengths.body.active_queues, [{ name: 'celery', messages: 3 }])
  const beat = await get('/api/beat')
  t.equal(beat.status, 200)
  t.match(beat.body, { store: 'nats', entries: [{ name: 'tick', totalRuns: Number }] }, 'the last runs beat stored')
  t.equal((await get('/api/queues/celery/dead-letters')).status, 200)
  t.same(refusals(monitorLog), [], 'the monitor logged no refusal')
  t.equal(await running.get({ timeout: 10 }), 1_500)
  await Promise.all(waiting.map((sent) => sent.get({ timeout: 10 })))
})
