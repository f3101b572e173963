// Outside audit: the dashboard read the queue list and the beat bucket under the default
// `celeriac` names whatever the app's `namespace`. With `namespace: 'shop'` the Queues and
// Beat pages show that namespace's queues and schedule, and nothing of another namespace's.
// (The list of queue streams also looked for names starting "CELERIAC_Q_=", so it found
// only queues with unsafe names, in any namespace.)
import t from 'tap'
import { startNatsServer } from '../../src/testing/nats-server.js'
import { createApp, type App } from '../../src/index.js'

const server = await startNatsServer()
const apps: App[] = []
t.teardown(async () => {
  await Promise.all(apps.map((app) => app.close()))
  await server.cleanup()
})
function app(name: string, config: Record<string, unknown> = {}): App {
  const made = createApp({ name, broker: server.url, backend: 'nats://', config })
  apps.push(made)
  return made
}

const schedule = { beatSchedule: { restock: { task: 'shop.restock', schedule: 0.2, options: { queue: 'orders' } } } }
// Another app on the same server, in the default namespace, with a queue of its own.
const other = app('other')
for (const name of ['celery', 'elsewhere']) await (await other.transport()).declareQueue({ name })
await other.sendTask('other.noop', [], { queue: 'elsewhere' })

// The shop: its default queue (as its workers would declare it), and a queue no node consumes
// and no config names, so only the broker tells of it.
const shop = app('shop', { namespace: 'shop', ...schedule })
for (const name of ['celery', 'orders']) await (await shop.transport()).declareQueue({ name })
await Promise.all([shop.sendTask('shop.pack', [1], { queue: 'orders' }), shop.sendTask('shop.pack', [2], { queue: 'orders' })])

/** A read-only dashboard of `app`, and a GET of its API. */
async function dashboardOf(app: App) {
  const handler = app.dashboard({ readOnly: true })
  t.teardown(() => handler.close())
  await handler.dashboard
  return async (path: string) => {
    const response = await handler.fetch(new Request(`http://127.0.0.1:5555${path}`))
    return { status: response.status, body: (await response.json()) as any }
  }
}
const get = await dashboardOf(shop)

t.test('dashboard with a namespace - Queues shows that namespace\'s queues, from its streams', async (t) => {
  const { status, body } = await get('/api/queues')
  t.equal(status, 200)
  const names = body.queues.map((row: { name: string }) => row.name)
  t.ok(names.includes('orders'), `the shop's queue is listed (${names.join(', ')})`)
  t.notOk(names.includes('elsewhere'), 'the default namespace\'s queue is not')
  t.match(body.queues.find((row: { name: string }) => row.name === 'orders'), { ready: 2, redelivered: 0 }, 'its figures, the stream\'s redelivered count included')
  t.match((await get('/api/queues/length')).body.active_queues, [{ name: 'celery' }, { name: 'orders', messages: 2 }])
})

t.test('dashboard with a namespace - Beat shows the last runs of that namespace\'s beat', async (t) => {
  const beat = shop.beat()
  await beat.start()
  let body: any
  try {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      body = (await get('/api/beat')).body
      if (body.entries[0]?.totalRuns >= 1) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } finally {
    await beat.stop()
  }
  t.match(body, { store: 'nats', leaseHolder: String, entries: [{ name: 'restock', task: 'shop.restock', lastRun: Number, totalRuns: Number }] }, 'what the shop\'s beat stored in shop-beat')
})

t.test('dashboard in the default namespace - Queues lists the queue streams only the broker knows, none of the shop\'s', async (t) => {
  const plain = other.dashboard({ readOnly: true })
  t.teardown(() => plain.close())
  await plain.dashboard
  const body = (await (await plain.fetch(new Request('http://127.0.0.1:5555/api/queues'))).json()) as { queues: Array<{ name: string; ready: number }> }
  const names = body.queues.map((row) => row.name)
  t.match(body.queues.find((row) => row.name === 'elsewhere'), { ready: 1 }, `the queue only its stream tells of is listed (${names.join(', ')})`)
  t.notOk(names.includes('orders'), 'the shop\'s queue is not')
})

t.test('dashboard before any worker - a queue the config names but nobody declared yet reads empty, not 500', async (t) => {
  const read = await dashboardOf(app('fresh', { namespace: 'fresh' }))
  const queues = await read('/api/queues')
  t.equal(queues.status, 200, JSON.stringify(queues.body))
  t.match(queues.body.queues, [{ name: 'celery', ready: 0 }])
  t.match(await read('/api/queues/length'), { status: 200, body: { active_queues: [{ name: 'celery', messages: 0 }] } })
})

t.test('dashboard - the oldest message age is the oldest ready one\'s, as the worker\'s metric: none while the only message is in flight', async (t) => {
  const busy = app('busy', { namespace: 'busy' })
  const transport = await busy.transport()
  await transport.declareQueue({ name: 'celery' })
  await busy.sendTask('busy.slow', [])
  // Taken and never acked: in flight, nothing ready.
  let taken!: () => void
  const inFlight = new Promise<void>((resolve) => (taken = resolve))
  transport.consume('celery', () => taken()).pull(1)
  await inFlight
  const read = await dashboardOf(busy)
  const row = (await read('/api/queues')).body.queues.find((q: { name: string }) => q.name === 'celery')
  t.match(row, { ready: 0, inFlight: 1, oldestAgeSeconds: null })
})
