import t from 'tap'
import { fileURLToPath } from 'node:url'
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { startWorkerProcess } from '../helpers/worker-process.js'
import { parsePrometheus, sample } from '../fixtures/obs-prometheus.js'

// Metrics on NATS: queue stats read from JetStream, and the CLI's --metrics-port/--health-port.
type Fixture = typeof import('../fixtures/obs-nats-app.js')
const fixture = fileURLToPath(new URL('../fixtures/obs-nats-app.ts', import.meta.url))

if (!natsServerAvailable()) {
  t.plan(0, 'nats-server is not installed')
} else {
  let server: NatsServer
  let f: Fixture
  t.before(async () => {
    server = await startNatsServer()
    process.env.CELERIAC_BROKER_URL = server.url
    process.env.CELERIAC_RESULT_BACKEND = server.url
    f = await import('../fixtures/obs-nats-app.js')
  })
  t.teardown(async () => {
    await f?.app.close()
    await server?.cleanup()
  })

  t.test('metrics on NATS - queue depth from JetStream matches what was sent while nobody consumes', async (t) => {
    const node = f.app.worker({ concurrency: 1, hostname: 'nats-metrics@test', queues: ['busy'], metrics: { port: 0, host: '127.0.0.1', queues: ['parked'] }, tracing: false })
    await node.start()
    t.teardown(() => node.stop())
    const before = Date.now()
    await Promise.all([1, 2, 3, 4].map((i) => f.add.applyAsync([i, 0], { queue: 'parked' })))
    await new Promise((resolve) => setTimeout(resolve, 50))
    const samples = parsePrometheus(await (await fetch(node.endpoints.metrics!)).text())
    const state = (s: string) => sample(samples, 'celeriac_queue_messages', { queue: 'parked', state: s })
    t.equal(state('ready'), 4)
    t.equal(state('in_flight'), 0)
    t.equal(state('delayed'), 0)
    t.equal(state('dead'), 0)
    const age = sample(samples, 'celeriac_queue_oldest_message_age_seconds', { queue: 'parked' })!
    t.ok(age > 0 && age <= (Date.now() - before) / 1000 + 0.5, `the oldest message's age (${age} s) is since it was sent`)
    t.equal(sample(samples, 'celeriac_queue_messages', { queue: 'busy', state: 'ready' }), 0)
  })

  t.test('cli - --metrics-port and --health-port serve a worker process', async (t) => {
    const worker = await startWorkerProcess({ app: fixture, hostname: 'cli-obs@test', args: ['-c', '1', '-Q', 'clique', '--metrics-port', '0', '--health-port', '0', '--health-host', '127.0.0.1'], env: { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: server.url } })
    t.teardown(() => worker.stop())
    const metricsUrl = /\.> metrics: +(\S+)/.exec(worker.output())?.[1]
    const probes = /\.> probes: +(\S+)\/livez/.exec(worker.output())?.[1]
    t.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, 'the banner names the metrics URL')
    // Docs audit: the banner named 127.0.0.1 for what listened on every interface.
    t.match(worker.output(), /\.> metrics: +http:\/\/127\.0\.0\.1:\d+\/metrics \(listening on every interface\)\n/)
    t.match(worker.output(), /\.> probes: +http:\/\/127\.0\.0\.1:\d+\/livez http:\/\/127\.0\.0\.1:\d+\/readyz\n/, '--health-host 127.0.0.1: loopback only')
    t.equal(await (await f.add.applyAsync([20, 22], { queue: 'clique' })).get({ timeout: 10 }), 42)
    const samples = parsePrometheus(await (await fetch(metricsUrl!)).text())
    t.equal(sample(samples, 'celeriac_tasks_succeeded_total', { task: 'obsnats.add', queue: 'clique', hostname: 'cli-obs@test' }), 1)
    t.equal((await fetch(`${probes}/readyz`)).status, 200)
    t.equal((await fetch(`${probes}/livez`)).status, 200)
  })
}
