import t from 'tap'
import { createApp, TaskState } from '../../src/index.js'
import { Latch } from '../../src/testing/latch.js'
import { app, handled, handledClass, routed, stamp, echo, mark } from '../fixtures/app.js'
import { lines, tempDir } from '../helpers/files.js'

app.conf.update({
  taskQueues: [{ name: 'feed', exchange: 'news', exchangeType: 'topic', routingKey: 'feed.#' }],
  taskRoutes: [[/^t\.rout/, { queue: 'routes' }]],
})
const node = app.worker({ concurrency: 2, queues: ['celery', 'feed', 'routes'], hostname: 'options@%h' })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
})

t.test('handlers - onSuccess, onFailure, onRetry and afterReturn run in the thread, in order', async (t) => {
  const dir = tempDir(t)
  await (await handled.delay(`${dir}/ok`, 'ok')).get({ timeout: 5 })
  t.same(lines(`${dir}/ok`), ['onSuccess done ok', 'afterReturn SUCCESS'])
  await (await handled.delay(`${dir}/fail`, 'fail')).get({ timeout: 5, propagate: false })
  t.same(lines(`${dir}/fail`), ['onFailure handled failure', 'afterReturn FAILURE'])
  await (await handled.delay(`${dir}/retry`, 'retry')).get({ timeout: 5 })
  t.same(lines(`${dir}/retry`), ['onRetry again', 'afterReturn RETRY', 'onSuccess done retry', 'afterReturn SUCCESS'])
  await (await handledClass.delay(`${dir}/class`)).get({ timeout: 5 })
  t.same(lines(`${dir}/class`), [`class onSuccess ran with ${dir.length + 6} chars`])
})

t.test('routing - a topic exchange from taskQueues: feed.# takes feed.sport', async (t) => {
  const info = (await (await routed.applyAsync([], { exchange: 'news', routingKey: 'feed.sport' })).get({ timeout: 5 })) as unknown as Record<string, unknown>
  t.match(info, { exchange: 'news', routingKey: 'feed.sport', queue: 'feed' })
})

t.test('routing - taskRoutes sends matching tasks to their queue; a call option wins', async (t) => {
  const byRoute = (await (await routed.delay()).get({ timeout: 5 })) as unknown as Record<string, unknown>
  t.equal(byRoute.queue, 'routes')
  const byCall = (await (await routed.applyAsync([], { queue: 'celery' })).get({ timeout: 5 })) as unknown as Record<string, unknown>
  t.equal(byCall.queue, 'celery')
})

t.test('ignoreResult - the task runs but nothing is stored', async (t) => {
  const file = `${tempDir(t)}/ignored`
  const result = await stamp.applyAsync([file], { ignoreResult: true })
  while (lines(file).length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  const check = await stamp.delay(`${file}-after`)
  await check.get({ timeout: 5 })
  t.equal(await result.state(), TaskState.PENDING, 'no state was stored')
  // The sender knows nothing will come: get() settles at once, as Celery's does (issue 18).
  t.equal(result.ignored, true)
  t.equal(await result.get({ timeout: 0.5 }), undefined)
  t.equal(check.ignored, false)
})

t.test('serializer - arguments can travel as JSON', async (t) => {
  t.same(await (await echo.applyAsync([{ a: [1, 'x'] }], { serializer: 'json' })).get({ timeout: 5 }), { value: { a: [1, 'x'] }, options: {} })
})

t.test('priority - among waiting tasks, the higher priority runs first', async (t) => {
  const file = `${tempDir(t)}/order`
  // Nobody consumes 'prio' yet: the tasks wait in the queue, then one thread takes one at a time.
  const sent = []
  for (const [label, priority] of [['a', 1], ['b', 1], ['c', 1], ['urgent', 9], ['d', 1]] as const) {
    sent.push(await mark.applyAsync([file, label], { priority, queue: 'prio' }))
  }
  const worker = app.worker({ concurrency: 1, prefetch: 1, queues: ['prio'], hostname: 'prio@%h' })
  await worker.start()
  t.teardown(() => worker.stop())
  await Promise.all(sent.map((r) => r.get({ timeout: 5 })))
  t.same(lines(file), ['urgent', 'a', 'b', 'c', 'd'], 'the priority 9 task ran first, the rest in order')
})

t.test('routing - a send no queue takes resolves, with a warning; task-sent is published', async (t) => {
  const warnings: [string, Record<string, unknown> | undefined][] = []
  const quiet = () => {}
  const logger = { debug: quiet, info: quiet, error: quiet, warn: (message: string, fields?: Record<string, unknown>) => void warnings.push([message, fields]) }
  const own = createApp({ name: 'drops', broker: 'memory://drops', backend: 'memory://drops', logger, config: { taskSendSentEvent: true } })
  t.teardown(() => own.close())
  const events = own.events.subscribe('task-sent')
  const sent = new Latch<{ uuid: string; routingKey?: string }>(2)
  void (async () => {
    for await (const event of events) sent.unlock(event as never)
  })()
  const transport = await own.transport()
  await transport.declareExchange({ name: 'ex', type: 'direct' })
  await transport.declareQueue({ name: 'only', bindings: [{ exchange: 'ex', key: 'bound' }] })
  const dropped = await own.sendTask('t.nowhere', [], { exchange: 'ex', routingKey: 'unbound' })
  t.match(warnings, [['task sent to an exchange with no queue bound for its routing key: it was dropped', { task: 't.nowhere', id: dropped.id, exchange: 'ex', routingKey: 'unbound' }]])
  const kept = await own.sendTask('t.somewhere', [], { exchange: 'ex', routingKey: 'bound' })
  t.equal(warnings.length, 1, 'a send a queue took warns of nothing')
  t.equal(await transport.depth('only'), 1)
  t.match(await sent.promise, [{ uuid: dropped.id, routingKey: 'unbound' }, { uuid: kept.id, routingKey: 'bound', queue: undefined }])
  await events.return?.(undefined)
})
