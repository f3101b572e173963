// An outside audit of routing: a call's routingKey was dropped whenever the task had a route or
// an exchange of its own. On memory://, which routes as NATS does (exchange table, default exchange).
import t, { type Test } from 'tap'
import { createApp, type App } from '../../src/index.js'
import type { ConfigValues } from '../../src/config/defaults.js'

let apps = 0
/** An app on its own memory broker, with a topic exchange `tx` (`stock.#` -> stocks, `eur.#` -> fx) and the default queue. */
async function broker(t: Test, config: Partial<ConfigValues> = {}): Promise<App> {
  const name = `routing-audit-${++apps}`
  const app = createApp({ name, broker: `memory://${name}`, backend: `memory://${name}`, config })
  t.teardown(() => app.close())
  const transport = await app.transport()
  await transport.declareExchange({ name: 'tx', type: 'topic' })
  await transport.declareQueue({ name: 'stocks', bindings: [{ exchange: 'tx', key: 'stock.#' }] })
  await transport.declareQueue({ name: 'fx', bindings: [{ exchange: 'tx', key: 'eur.#' }] })
  await transport.declareQueue({ name: 'celery' })
  return app
}

async function depths(app: App, ...queues: string[]): Promise<Record<string, number>> {
  const transport = await app.transport()
  return Object.fromEntries(await Promise.all(queues.map(async (q) => [q, await transport.depth(q)] as const)))
}

t.test("routing audit - a call's routingKey wins over its route's", async (t) => {
  const app = await broker(t, { taskRoutes: { 'rt.topic': { exchange: 'tx', routingKey: 'stock.nyse' } } })
  const topic = app.task('rt.topic', (pair: string) => pair)
  await topic.applyAsync(['eurusd'], { routingKey: 'eur.usd' })
  t.same(await depths(app, 'stocks', 'fx'), { stocks: 0, fx: 1 }, 'delivered with eur.usd')
  await topic.delay('nyse')
  t.same(await depths(app, 'stocks', 'fx'), { stocks: 1, fx: 1 }, 'without one, the route\'s key')
  await topic.applyAsync(['again'], { routingKey: 'eur.gbp' })
  t.same(await depths(app, 'stocks', 'fx'), { stocks: 1, fx: 2 }, 'the plain call cached nothing that hides a later key')
})

t.test("routing audit - a call's routingKey wins over the task's exchange and key", async (t) => {
  const app = await broker(t)
  const topic = app.task('rt.own', (pair: string) => pair, { exchange: 'tx', routingKey: 'stock.nyse' })
  await topic.applyAsync(['eurusd'], { routingKey: 'eur.usd' })
  t.same(await depths(app, 'stocks', 'fx'), { stocks: 0, fx: 1 })
  await topic.delay('nyse')
  t.same(await depths(app, 'stocks', 'fx'), { stocks: 1, fx: 1 })
})
