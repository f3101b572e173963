// Outside audit: with the published per-role permissions the read-only dashboard runs as the
// `monitor` role, and before any beat has run the beat bucket does not exist. The Beat page
// tried to create it on every request; the monitor is refused that (rightly), and a warning
// was logged each time. The dashboard only opens the bucket: "no beat has run yet" is an
// empty answer, not an error.
import t, { type Test } from 'tap'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { createApp } from '../../src/index.js'
import type { NatsRole } from '../../src/nats/index.js'
import { keepingLogger, serverWithRoles } from '../helpers/nats-config.js'

const users: Array<[string, NatsRole, { inboxPrefix?: string }]> = [
  ['worker', 'worker', {}],
  ['beat', 'beat', {}],
  ['monitor', 'monitor', { inboxPrefix: '_INBOX.monitor' }],
]
const { server, as } = await serverWithRoles(t, users)


// Workers (or an admin) make the streams before a monitor connects: a worker's transport does.
const setup = createApp({ name: 'nobeat', broker: as('worker'), backend: 'nats://' })
await (await setup.transport()).declareQueue({ name: 'celery' })
await (await setup.backend()).get('none')
t.teardown(() => setup.close())

const schedule = { beatSchedule: { tick: { task: 'b.add', args: [1, 2], schedule: 60 } } }

/** A read-only dashboard of the app, connected as the monitor role; its log keeps warnings. */
async function monitorDashboard(t: Test) {
  const log = keepingLogger()
  const monitor = createApp({ name: 'nobeat', broker: as('monitor'), backend: 'nats://', logger: log, config: { natsInboxPrefix: '_INBOX.monitor', ...schedule } })
  const dashboard = monitor.dashboard({ readOnly: true })
  t.teardown(async () => {
    await dashboard.close()
    await monitor.close()
  })
  await dashboard.dashboard
  return { monitor, dashboard, log }
}

t.test('dashboard as monitor - Beat page before any beat ran: entries without last runs, no refusal, bucket not made', async (t) => {
  const { monitor, dashboard, log } = await monitorDashboard(t)
  const get = async (path: string) => {
    const started = performance.now()
    const response = await dashboard.fetch(new Request(`http://127.0.0.1:5555${path}`))
    return { status: response.status, body: (await response.json()) as any, ms: performance.now() - started }
  }
  for (let i = 0; i < 2; i++) {
    const beat = await get('/api/beat')
    t.equal(beat.status, 200, `request ${i + 1} answers`)
    t.match(beat.body, { store: 'nats', leaseHolder: null, entries: [{ name: 'tick', task: 'b.add', lastRun: null, totalRuns: null, nextRun: Number }] }, 'the schedule, no last run')
    t.notOk(beat.body.entries[0].error, 'no error on the entry')
    t.ok(beat.ms < 2_000, `answered at once (${Math.round(beat.ms)} ms), not after a refused request timed out`)
  }
  // The status iterator reports a refusal a few hops after the server sent it.
  await monitor.control.inspect({ timeout: 0.2 }).ping()
  t.same(log.warnings, [], 'the monitor logged no refusal, nor anything else')

  const nc = await connect({ servers: server.url, user: 'monitor', pass: 'pw', inboxPrefix: '_INBOX.monitor' })
  t.teardown(() => nc.close())
  const streams: string[] = []
  for await (const name of (await jetstreamManager(nc)).streams.names()) streams.push(name)
  t.notOk(streams.includes('KV_celeriac-beat'), 'the dashboard made no beat bucket')
})

t.test('dashboard as monitor - Beat page once a beat ran: its last runs and lease holder', async (t) => {
  const beatApp = createApp({ name: 'nobeat', broker: as('beat'), backend: 'nats://', config: { beatSchedule: { tick: { task: 'b.add', args: [1, 2], schedule: 0.2 } } } })
  const beat = beatApp.beat()
  await beat.start()
  const { dashboard, log } = await monitorDashboard(t)
  let body: any
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    body = await (await dashboard.fetch(new Request('http://127.0.0.1:5555/api/beat'))).json()
    if (body.entries[0]?.totalRuns >= 1 && body.leaseHolder) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await beat.stop()
  await beatApp.close()
  t.match(body, { store: 'nats', leaseHolder: String, entries: [{ name: 'tick', lastRun: Number, totalRuns: Number }] }, 'what the beat stored')
  t.same(log.warnings.filter((line) => /refused/.test(line)), [], 'the monitor logged no refusal')
})
