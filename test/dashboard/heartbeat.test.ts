import t from 'tap'
import { app, nap } from '../fixtures/dashboard-send-app.js'
import { until } from '../helpers/until.js'
import type { WorkerEvent } from '../../src/index.js'

// Outside audit: a node's worker-heartbeat counted the tasks it holds for the lookahead or a
// rate limit as `active`, so the dashboard's live "active" (and anything reading heartbeats)
// overstated what runs: a node with 64 slots showed 66 to 70 active. `active` is now what its
// threads run (as Celery's, and as the node's celeriac_worker_tasks_active), and `reserved`
// what it holds besides.
const node = app.worker({ concurrency: 1, hostname: 'dash-beat@%h', heartbeatInterval: 0.1 })
const handler = app.dashboard()
const heartbeats = app.events.subscribe('worker-heartbeat')
t.before(async () => {
  await Promise.all([handler.dashboard, heartbeats.ready])
  await node.start()
})
t.teardown(async () => {
  heartbeats.close()
  await node.stop({ cold: true })
  await handler.close()
  await app.close()
})

t.test('worker heartbeat - active counts running tasks; those held for a rate limit are reserved', async (t) => {
  // One runs; the rate limit (1/m) holds the other two on the node, received, not run.
  await Promise.all([nap.delay(10_000), nap.delay(10_000), nap.delay(10_000)])
  await until(() => node.active, (n) => n === 3, 'the node to hold the three')
  let beat: (WorkerEvent & { reserved?: number }) | undefined
  for await (const event of heartbeats) {
    beat = event as WorkerEvent & { reserved?: number }
    if (beat.type === 'worker-heartbeat' && beat.hostname === node.hostname && beat.timestamp > Date.now() - 50) break
  }
  t.match(beat, { type: 'worker-heartbeat', active: 1, reserved: 2 }, 'the heartbeat: one running, two reserved')

  // The dashboard, without asking the node (no refresh): what the heartbeats say.
  const workers = await until(async () => (await (await handler.fetch(new Request('http://127.0.0.1:5555/api/workers'))).json()) as Record<string, any>, (w) => w[node.hostname]?.reserved === 2, 'a heartbeat to reach the dashboard')
  t.match(workers[node.hostname], { active: 1, running: 1, reserved: 2 }, 'the Workers page: "1 running, 2 reserved"')
  const metrics = await (await handler.fetch(new Request('http://127.0.0.1:5555/metrics'))).text()
  t.match(metrics, new RegExp(`celeriac_worker_tasks_active\\{hostname="${node.hostname}"\\} 1\\n`), "the dashboard's celeriac_worker_tasks_active: running tasks only")
})
