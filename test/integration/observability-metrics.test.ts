import t from 'tap'
import { app, add, boom, flaky, stuck } from '../fixtures/obs-app.js'
import { parsePrometheus, sample } from '../fixtures/obs-prometheus.js'
import { until } from '../helpers/until.js'

const node = app.worker({ concurrency: 2, hostname: 'metrics@test', metrics: { port: 0, host: '127.0.0.1', queues: ['parked'] } })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
})

async function scrape() {
  const response = await fetch(node.endpoints.metrics!)
  if (response.status !== 200) throw new Error(`scrape answered ${response.status}`)
  return parsePrometheus(await response.text())
}

t.test('metrics - counters and histograms after known work, by task and queue', async (t) => {
  const sent = [
    ...(await Promise.all([1, 2, 3, 4, 5].map((i) => add.delay(i, i)))),
    ...(await Promise.all(['a', 'b'].map((why) => boom.delay(why)))),
    await flaky.delay(),
  ]
  await Promise.all(sent.map((result) => result.get({ timeout: 10, propagate: false })))
  const samples = await scrape()
  const of = (name: string, task: string) => sample(samples, name, { task, queue: 'celery', hostname: 'metrics@test' })
  t.equal(of('celeriac_tasks_received_total', 'obs.add'), 5)
  t.equal(of('celeriac_tasks_started_total', 'obs.add'), 5)
  t.equal(of('celeriac_tasks_succeeded_total', 'obs.add'), 5)
  t.equal(of('celeriac_tasks_failed_total', 'obs.add'), 0)
  t.equal(of('celeriac_task_runtime_seconds_count', 'obs.add'), 5)
  t.equal(of('celeriac_task_queue_wait_seconds_count', 'obs.add'), 5)
  t.equal(of('celeriac_tasks_received_total', 'obs.boom'), 2)
  t.equal(of('celeriac_tasks_failed_total', 'obs.boom'), 2)
  t.equal(of('celeriac_tasks_succeeded_total', 'obs.boom'), 0)
  t.equal(of('celeriac_tasks_received_total', 'obs.flaky'), 2, 'the first run and its retry')
  t.equal(of('celeriac_tasks_retried_total', 'obs.flaky'), 1)
  t.equal(of('celeriac_tasks_succeeded_total', 'obs.flaky'), 1)
  t.equal(of('celeriac_task_runtime_seconds_count', 'obs.flaky'), 2)
  t.equal(sample(samples, 'celeriac_worker_threads', { hostname: 'metrics@test' }), 2)
  t.equal(sample(samples, 'celeriac_worker_tasks_active', { hostname: 'metrics@test' }), 0)
  t.ok(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds'), "prom-client's default Node metrics are there")
})

t.test('metrics - a thread a task holds counts as held; killed at its hard time limit, the task counts as failed and the thread as replaced', async (t) => {
  const result = await stuck.applyAsync([], { timeLimit: 2 })
  const held = await until(async () => sample(await scrape(), 'celeriac_worker_threads_held', { hostname: 'metrics@test' }), (n) => n === 1, 'the stuck task to hold its thread')
  t.equal(held, 1)
  await t.rejects(result.get({ timeout: 10 }), { name: 'TimeLimitExceeded' })
  const samples = await scrape()
  t.equal(sample(samples, 'celeriac_worker_threads_held', { hostname: 'metrics@test' }), 0, 'its replacement is not held')
  t.equal(sample(samples, 'celeriac_tasks_failed_total', { task: 'obs.stuck' }), 1)
  t.equal(sample(samples, 'celeriac_task_runtime_seconds_count', { task: 'obs.stuck' }), 1, 'its runtime is in the histogram too')
  t.ok(sample(samples, 'celeriac_task_runtime_seconds_sum', { task: 'obs.stuck' })! >= 2, 'for as long as it ran: its limit at least')
  t.equal(sample(samples, 'celeriac_worker_threads_replaced_total', { reason: 'time_limit' }), 1)
})

t.test('metrics - queue depth read from the broker matches what was sent while nobody consumes', async (t) => {
  await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => add.applyAsync([i, 0], { queue: 'parked' })))
  await Promise.all([1, 2, 3].map((i) => add.applyAsync([i, 0], { queue: 'parked', countdown: 60 })))
  const samples = await scrape()
  const state = (s: string) => sample(samples, 'celeriac_queue_messages', { queue: 'parked', state: s })
  t.equal(state('ready'), 7)
  t.equal(state('delayed'), 3)
  t.equal(state('in_flight'), 0)
  t.equal(state('dead'), 0)
  t.ok(sample(samples, 'celeriac_queue_oldest_message_age_seconds', { queue: 'parked' })! >= 0)
  t.equal(sample(samples, 'celeriac_queue_messages', { queue: 'celery', state: 'ready' }), 0)
})

t.test('metrics - a port in use fails the start with the port named, and the node is failed', async (t) => {
  const port = Number(new URL(node.endpoints.metrics!).port)
  const clash = app.worker({ concurrency: 1, hostname: 'clash@test', queues: ['elsewhere'], metrics: { port, host: '127.0.0.1' } })
  await t.rejects(clash.start(), { message: `cannot serve /metrics on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}` })
  t.equal(clash.state, 'failed')
})

t.test('metrics - options are checked when the node is made', async (t) => {
  t.throws(() => app.worker({ metrics: { port: 70000 } }), { name: 'InvalidArgumentError', message: 'options.metrics.port must be an integer from 0 to 65535, got 70000' })
})

t.test('metrics - two nodes in one process keep separate registries', async (t) => {
  const other = app.worker({ concurrency: 1, hostname: 'other@test', queues: ['elsewhere'], metrics: { port: 0, host: '127.0.0.1', hostnameLabel: false } })
  await other.start()
  t.teardown(() => other.stop())
  const samples = parsePrometheus(await (await fetch(other.endpoints.metrics!)).text())
  t.equal(sample(samples, 'celeriac_tasks_received_total', { task: 'obs.add' }), 0, 'no task was received there')
  // Every series is there at 0 before the first task, so increase() sees a first failure or crash.
  t.equal(sample(samples, 'celeriac_tasks_failed_total', { task: 'obs.boom', queue: 'elsewhere' }), 0, 'a task\'s failures, at 0 from the start')
  t.equal(sample(samples, 'celeriac_worker_threads_replaced_total', { reason: 'crash' }), 0, 'thread crashes, at 0 from the start')
  t.equal(sample(samples, 'celeriac_worker_threads'), 1)
  t.notOk(samples.some((s) => s.labels.hostname !== undefined), 'hostname label switched off')
})
