import t from 'tap'
import { DashboardState } from '../../src/dashboard/state.js'
import { ThroughputSeries } from '../../src/dashboard/series.js'
import { repr } from '../../src/events/repr.js'
import type { CeleriacEvent } from '../../src/events/events.js'

const base = { hostname: 'w1@h', timestamp: 1_000 }
const received = (uuid: string, at = 1_000, extra: object = {}): CeleriacEvent => ({ ...base, type: 'task-received', uuid, name: 't.add', retries: 0, rootId: uuid, timestamp: at, ...extra })
const succeeded = (uuid: string, at = 1_002): CeleriacEvent => ({ ...base, type: 'task-succeeded', uuid, runtime: 0.002, result: '3', timestamp: at })

t.test('a late task-sent neither moves a task back to PENDING nor after its RECEIVED', async (t) => {
  const state = new DashboardState()
  state.apply(received('a', 1_000, { args: '[1,2]', queue: 'q' }))
  state.apply({ ...base, type: 'task-started', uuid: 'a', pid: 1, timestamp: 1_001 })
  state.apply({ ...base, type: 'task-sent', uuid: 'a', name: 't.add', retries: 0, exchange: '', routingKey: 'q', rootId: 'a', hostname: '1@client', timestamp: 1_005 })
  state.apply(succeeded('a'))
  // A duplicate report (a redelivery's) that arrives last.
  state.apply({ ...base, type: 'task-started', uuid: 'a', pid: 1, timestamp: 1_001 })
  const row = state.tasks.get('a')!
  t.equal(row.state, 'SUCCESS', 'a late STARTED does not undo SUCCESS')
  t.same(row.timeline.map((e) => e.state), ['PENDING', 'RECEIVED', 'STARTED', 'STARTED', 'SUCCESS'])
  t.match(row, { name: 't.add', args: '[1,2]', queue: 'q', result: '3', runtime: 0.002, sent: 1_005, received: 1_000, finished: 1_002 })
})

t.test('a task-sent stamped later than the worker\'s events (another clock) still comes first, whatever arrives after it', async (t) => {
  const state = new DashboardState()
  state.apply({ ...base, type: 'task-sent', uuid: 'k', name: 't.add', retries: 0, exchange: '', routingKey: 'q', rootId: 'k', hostname: '1@client', timestamp: 1_005 })
  state.apply(received('k', 1_000))
  state.apply({ ...base, type: 'task-started', uuid: 'k', pid: 1, timestamp: 1_001 })
  state.apply(succeeded('k'))
  t.same(state.tasks.get('k')!.timeline.map((e) => e.state), ['PENDING', 'RECEIVED', 'STARTED', 'SUCCESS'])
})

t.test('a retry: RETRY then a new attempt, its task-sent first in that attempt', async (t) => {
  const state = new DashboardState()
  state.apply(received('r', 1_000))
  state.apply({ ...base, type: 'task-retried', uuid: 'r', exception: 'Boom("x")', timestamp: 1_010 })
  state.apply(received('r', 2_000, { retries: 1 }))
  state.apply({ ...base, type: 'task-sent', uuid: 'r', name: 't.add', retries: 1, exchange: '', routingKey: 'q', rootId: 'r', hostname: 'w1@h', timestamp: 2_001 })
  const row = state.tasks.get('r')!
  t.same(row.timeline.map((e) => e.state), ['RECEIVED', 'RETRY', 'PENDING', 'RECEIVED'])
  t.equal(row.state, 'RECEIVED')
  t.equal(row.retries, 1)
  t.equal(row.exception, 'Boom("x")')
})

t.test('memory is bounded: the oldest task goes first; children link to parents', async (t) => {
  const state = new DashboardState({ maxTasks: 3 })
  for (const id of ['1', '2', '3', '4']) state.apply(received(id, 1_000, id === '4' ? { parentId: '3' } : {}))
  t.same([...state.tasks.keys()], ['2', '3', '4'])
  t.equal(state.dropped, 1)
  t.same(state.tasks.get('3')!.children, ['4'])
  t.throws(() => new DashboardState({ maxTasks: 0 }), RangeError)
})

t.test('memory is bounded: a task that is done goes before one still running, which keeps its name if it must go', async (t) => {
  // Found by an outside audit: rows dropped while running came back, nameless, with their next
  // event, and the dashboard's metrics labelled them task="unknown".
  const state = new DashboardState({ maxTasks: 3 })
  for (const id of ['1', '2', '3']) state.apply(received(id, 1_000))
  state.apply(succeeded('2', 1_001))
  state.apply(received('4', 1_002))
  t.same([...state.tasks.keys()], ['1', '3', '4'], 'the done one went, not the oldest')
  state.apply(received('5', 1_003))
  t.same([...state.tasks.keys()], ['3', '4', '5'], 'none done: the oldest went')
  state.apply({ ...base, type: 'task-started', uuid: '1', pid: 1, timestamp: 1_004 })
  t.match(state.tasks.get('1'), { name: 't.add', state: 'STARTED' }, 'back with its name')
})

t.test('workers go offline after worker-offline or two missed heartbeats', async (t) => {
  let now = 10_000
  const state = new DashboardState({ now: () => now })
  const beat = (type: 'worker-online' | 'worker-heartbeat' | 'worker-offline', hostname: string, at: number): CeleriacEvent =>
    ({ type, hostname, timestamp: at, freq: 2, swIdent: 'celeriac', swVer: '0', swSys: 'linux', active: 1, processed: 5 })
  state.apply(beat('worker-online', 'a@h', 10_000))
  state.apply(beat('worker-heartbeat', 'b@h', 10_000))
  state.apply(beat('worker-offline', 'a@h', 10_500))
  t.same(state.workerList().map((w) => [w.hostname, w.status]), [['a@h', 'offline'], ['b@h', 'online']])
  now = 10_000 + 2 * 2_000 + 2_001
  t.equal(state.workerList()[1].status, 'offline', 'silent for two intervals and 2 s')
  state.apply(beat('worker-heartbeat', 'b@h', now))
  t.equal(state.workerList()[1].status, 'online')
})

t.test('workers - no worker goes offline while the dashboard cannot hear the broker, nor for two heartbeats after', async (t) => {
  let now = 10_000
  const state = new DashboardState({ now: () => now })
  const beat = (hostname: string, at: number): CeleriacEvent =>
    ({ type: 'worker-heartbeat', hostname, timestamp: at, freq: 2, swIdent: 'celeriac', swVer: '0', swSys: 'linux', active: 0, processed: 5 })
  state.apply(beat('a@h', 10_000))
  t.same(state.broker, { connected: true, since: 0 })
  now = 11_000
  state.brokerLink(false)
  t.same(state.broker, { connected: false, since: 11_000 })
  now = 60_000
  t.equal(state.workerList()[0].status, 'online', 'silent for 50 s, but the silence is the broker link\'s')
  now = 70_000
  state.brokerLink(true)
  now = 70_000 + 2 * 2_000 + 2_000
  t.equal(state.workerList()[0].status, 'online', 'two heartbeats and 2 s after the link is back: still time to be heard')
  now += 1
  t.equal(state.workerList()[0].status, 'offline', 'not heard from since the link came back')
  state.brokerLink(true)
  t.same(state.broker, { connected: true, since: 70_000 }, 'a repeated state changes nothing')
})

t.test('worker heartbeats - running and reserved from a node that sends reserved; an older node\'s active left as it is', async (t) => {
  const state = new DashboardState({ now: () => 10_000 })
  const beat = (hostname: string, fields: object): CeleriacEvent =>
    ({ type: 'worker-heartbeat', hostname, timestamp: 10_000, freq: 2, swIdent: 'celeriac', swVer: '0', swSys: 'linux', active: 0, processed: 5, ...fields })
  state.apply(beat('new@h', { active: 64, reserved: 2 }))
  state.apply(beat('old@h', { active: 66 }))
  const [fresh, old] = state.workerList()
  t.match(fresh, { active: 64, running: 64, reserved: 2 })
  fresh!.slots = 64
  state.apply(beat('new@h', { active: 32, reserved: 0 }))
  t.match(fresh, { running: 32, reserved: 0, load: 0.5 }, 'load follows the heartbeats once stats gave the slots')
  t.match(old, { active: 66, running: undefined, reserved: undefined }, 'an older node\'s count is not taken for running tasks')
})

t.test('per-second series: counts and runtime percentiles', async (t) => {
  const series = new ThroughputSeries(60)
  for (let i = 1; i <= 100; i++) series.succeeded(5_000, i / 1000)
  series.failed(5_500)
  const points = series.points(6_999, 10)
  t.equal(points.length, 10)
  t.same(points.at(-2), { t: 5, succeeded: 100, failed: 1, p50: 0.05, p95: 0.095, p99: 0.099 })
  t.same(points.at(-1), { t: 6, succeeded: 0, failed: 0, p50: null, p95: null, p99: null })
})

t.test('event reprs: JSON text, cut at 1,024 characters, never a throw', async (t) => {
  t.equal(repr([1, 'a', { b: 2n }]), '[1,"a",{"b":"2"}]')
  const long = repr(['x'.repeat(5_000)])
  t.equal(long.length, 1024)
  t.ok(long.endsWith('...'))
  const loop: Record<string, unknown> = {}
  loop.self = loop
  t.match(repr(loop), /^<unshowable: /)
  t.equal(repr(new Uint8Array(3)), '"<3 bytes>"')
})
