// The dashboard's /metrics, from events and the broker, as an outside audit found it: a scrape
// that waited 15 s on a broker out of reach (Prometheus gives up at 10 s, worker_online with
// it), and a queue wait never observed when task-sent came after task-received.
import t from 'tap'
import { DashboardState } from '../../src/dashboard/state.js'
import { DashboardMetrics } from '../../src/dashboard/metrics.js'
import type { CeleriacEvent } from '../../src/events/events.js'

const base = { hostname: 'w1@h', timestamp: 1_000 }
const received = (uuid: string, at: number): CeleriacEvent => ({ ...base, type: 'task-received', uuid, name: 't.add', retries: 0, rootId: uuid, queue: 'celery', timestamp: at })
const sent = (uuid: string, at: number): CeleriacEvent => ({ ...base, type: 'task-sent', uuid, name: 't.add', retries: 0, exchange: '', routingKey: 'celery', rootId: uuid, queue: 'celery', timestamp: at })

function fed(queues: () => Promise<never[]> = async () => []) {
  const state = new DashboardState()
  const metrics = new DashboardMetrics(state, queues)
  state.onEvent((event, row) => metrics.observe(event, row))
  return { state, metrics, apply: (event: CeleriacEvent) => state.apply(event) }
}

t.test('a scrape while the broker does not answer comes back within seconds, without the queue gauges', async (t) => {
  const { metrics, state } = fed(() => new Promise<never[]>(() => {}))
  state.apply({ ...base, type: 'worker-online', freq: 2, swIdent: 'celeriac', swVer: '0', swSys: 'linux', active: 0, processed: 0, timestamp: Date.now() })
  const began = Date.now()
  // The dashboard's HTTP server keeps its process up; here, this timer does (the scrape's are unref'd).
  const alive = setTimeout(() => {}, 10_000)
  const text = await metrics.text()
  clearTimeout(alive)
  t.ok(Date.now() - began < 5_000, `answered in ${Date.now() - began} ms`)
  t.match(text, /celeriac_worker_online\{hostname="w1@h"\} 1/)
  t.notMatch(text, /celeriac_queue_messages\{/)
})

t.test('the queue wait is observed whichever of task-sent and task-received comes first; a retry is not measured from the attempt before', async (t) => {
  const { metrics, apply } = fed()
  apply(received('a', 1_500))
  apply(sent('a', 1_000))
  apply(sent('b', 2_000))
  apply(received('b', 2_250))
  // A retry's task-sent after its first attempt was received: no wait from that attempt.
  apply(sent('b', 3_000))
  const text = await metrics.text()
  t.match(text, /celeriac_task_queue_wait_seconds_count\{task="t.add",queue="celery"\} 2/)
  t.match(text, /celeriac_task_queue_wait_seconds_sum\{task="t.add",queue="celery"\} 0.75/)
})
