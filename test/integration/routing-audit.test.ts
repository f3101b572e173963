// An outside audit of routing: a call's routingKey was dropped whenever the task had a route or
// an exchange of its own, and malformed taskRoutes entries sent tasks to the default queue
// without a word. On memory://, which routes as NATS does (exchange table, default exchange).
import t, { type Test } from 'tap'
import { ConfigError, createApp, type App } from '../../src/index.js'
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

t.test('routing audit - a taskRoutes value that is a string is the queue name, as in Celery', async (t) => {
  const app = await broker(t, { taskRoutes: { 'rt.where': 'a' } })
  await app.task('rt.where', () => 1).delay()
  t.same(await depths(app, 'a', 'celery'), { a: 1, celery: 0 })
})

t.test("routing audit - '?' in a route glob matches one character", async (t) => {
  const app = await broker(t, { taskRoutes: { 'rt.?': { queue: 'one' }, 'rt.b?d.*': { queue: 'mid' } } })
  await app.sendTask('rt.x', [])
  await app.sendTask('rt.xy', [])
  await app.sendTask('rt.bad.go', [])
  await app.sendTask('rt.bd.go', [])
  t.same(await depths(app, 'one', 'mid', 'celery'), { one: 1, mid: 1, celery: 2 })
})

t.test('routing audit - a malformed taskRoutes entry is a ConfigError naming it, at configuration', async (t) => {
  const bad: [unknown, string][] = [
    [{ 'rt.where': 5 }, 'config.taskRoutes["rt.where"] must be a queue name or a route with queue, exchange, routingKey, priority, got 5'],
    [{ 'rt.where': { qeue: 'a' } }, 'unknown route key "qeue" in config.taskRoutes["rt.where"] (did you mean "queue"?); a route may hold queue, exchange, routingKey, priority'],
    [{ 'rt.where': { queue: 'a', routing_key: 'k' } }, 'unknown route key "routing_key" in config.taskRoutes["rt.where"] (did you mean "routingKey"?); a route may hold queue, exchange, routingKey, priority'],
    [{ 'rt.where': { queue: 'a', durable: true } }, 'unknown route key "durable" in config.taskRoutes["rt.where"]; a route may hold queue, exchange, routingKey, priority'],
    [{ 'rt.where': null }, 'config.taskRoutes["rt.where"] must be a queue name or a route with queue, exchange, routingKey, priority, got null'],
    [{ 'rt.where': '' }, 'config.taskRoutes["rt.where"] must be a queue name or a route with queue, exchange, routingKey, priority, got ""'],
    [{ 'rt.where': { queue: 7 } }, 'config.taskRoutes["rt.where"].queue must be a non-empty string, got 7'],
    [{ 'rt.where': { exchange: 'tx', routingKey: 1 } }, 'config.taskRoutes["rt.where"].routingKey must be a string, got 1'],
    [{ 'rt.where': { queue: 'a', priority: 10 } }, 'config.taskRoutes["rt.where"].priority must be an integer from 0 to 9, got 10'],
    [[['rt.*', { queue: 'a' }], [/^rt/, { qeue: 'a' }]], 'unknown route key "qeue" in config.taskRoutes[1][1] (did you mean "queue"?); a route may hold queue, exchange, routingKey, priority'],
    [[[5, { queue: 'a' }]], 'config.taskRoutes[0][0] must be a task name, a glob or a RegExp, got 5'],
  ]
  for (const [taskRoutes, message] of bad) {
    t.throws(() => createApp({ name: 'routing-audit-bad', broker: 'memory://routing-audit-bad', config: { taskRoutes: taskRoutes as never } }), new ConfigError(message), message)
  }
  const app = createApp({ name: 'routing-audit-good', broker: 'memory://routing-audit-good', config: { taskRoutes: [['rt.*', 'a'], [/^x/, { queue: 'b', priority: 0, exchange: '', routingKey: 'b' }]] as never } })
  t.teardown(() => app.close())
  t.pass('a queue name and a route with every key are accepted')
})
