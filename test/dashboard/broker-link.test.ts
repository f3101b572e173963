import t from 'tap'
import { natsServerAvailable, startNatsServer } from '../../src/testing/index.js'
import { until } from '../helpers/until.js'

// Outside audit: with its own broker connection down, the dashboard said "● live" (its page's
// stream to the dashboard was fine), took every worker's missed heartbeats for the worker's,
// showed them all offline (and /metrics' celeriac_worker_online fell to 0 across the fleet),
// and answered API calls that needed the broker with 500s. Now the page is told the link is
// down, workers keep the status they had, the gauge says which is which, and those calls are
// 503s that say why.
const missing = natsServerAvailable() ? undefined : 'needs nats-server (apt-get install nats-server)'

t.test('the dashboard tells its own lost broker link from lost workers', { skip: missing }, async (t) => {
  const nats = await startNatsServer()
  t.teardown(() => nats.cleanup())
  process.env.CELERIAC_BROKER_URL = nats.url
  const { app } = await import('../fixtures/obs-nats-app.js')
  const node = app.worker({ concurrency: 1, hostname: 'link@%h', heartbeatInterval: 0.2 })
  const handler = app.dashboard()
  t.teardown(async () => {
    await node.stop({ cold: true })
    await handler.close()
    await app.close()
  })
  await handler.dashboard
  await node.start()
  const fetch = (path: string) => handler.fetch(new Request(`http://127.0.0.1:5555${path}`))
  const workers = async () => (await (await fetch('/api/workers')).json()) as Record<string, { status: string }>
  await until(workers, (w) => w[node.hostname]?.status === 'online', 'the node to be heard')

  // The page's live stream, read as a browser's EventSource would.
  const stream = (await fetch('/api/events')).body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffered = ''
  async function next(type: string): Promise<any> {
    for (;;) {
      const at = buffered.indexOf('\n\n')
      if (at >= 0) {
        const message = buffered.slice(0, at)
        buffered = buffered.slice(at + 2)
        if (message.includes(`event: ${type}\n`)) return JSON.parse(/^data: (.*)$/m.exec(message)![1]!)
        continue
      }
      const { value, done } = await stream.read()
      if (done) throw new Error(`the stream ended before a ${type} event`)
      buffered += value
    }
  }
  t.match(await next('hello'), { broker: { connected: true } }, 'a page is told the link is up when it opens')
  const gauge = async () => /^celeriac_dashboard_broker_connected (\d)$/m.exec(await (await fetch('/metrics')).text())?.[1]
  t.equal(await gauge(), '1')

  await nats.stop()
  const lost = await next('broker')
  t.match(lost, { connected: false, since: Number }, 'and at once when it is lost')
  t.equal(await gauge(), '0', '/metrics says the dashboard is deaf')
  const metrics = await (await fetch('/metrics')).text()
  t.match(metrics, new RegExp(`celeriac_worker_online\\{hostname="${node.hostname}"\\} 1\\n`), 'the node stays online in /metrics')
  t.equal((await workers())[node.hostname]?.status, 'online', 'and on the Workers page')
  const letters = await fetch('/api/queues/celery/dead-letters')
  t.equal(letters.status, 503, 'a call that needs the broker is a 503, not a 500')
  t.equal(letters.headers.get('retry-after'), '5')
  t.match(((await letters.json()) as { error: string }).error, new RegExp(`^the broker cannot be reached \\(since ${new Date(lost.since).toISOString().replace(/[.]/g, '\\.')}\\): `))

  await nats.restart()
  t.match(await next('broker'), { connected: true }, 'the page is told when it is back')
  t.equal(await gauge(), '1')
  await until(workers, (w) => w[node.hostname]?.status === 'online', 'the node to be heard again')
  t.equal((await fetch('/api/queues/celery/dead-letters')).status, 200)
  await stream.cancel()
})
