import t, { type Test } from 'tap'
import type { Worker } from 'node:worker_threads'
import { ConfigError, createApp, type App } from '../../src/index.js'
import { app as fixture, add } from '../fixtures/app.js'
import type { Logger } from '../../src/util/logger.js'

/** A logger that keeps what it is told, so the test output stays quiet and the log can be read. */
function keptLogger(): Logger & { errors: string[] } {
  const errors: string[] = []
  return { errors, debug: () => {}, info: () => {}, warn: () => {}, error: (message) => void errors.push(message) }
}

function brokenApp(t: Test, name: string, options: Parameters<typeof createApp>[0]): App & { errors: string[] } {
  const logger = keptLogger()
  const app = createApp({ name, broker: `memory://${name}`, backend: `memory://${name}`, logger, ...options })
  t.teardown(() => app.close())
  return Object.assign(app, { errors: logger.errors })
}

/** After a failed start: stop() resolves, the node says why, and it refuses to start again. */
async function afterFailedStart(t: Test, node: ReturnType<App['worker']>, cause: RegExp) {
  t.equal(node.state, 'failed')
  t.match((node.failure as Error).message, cause)
  await t.resolves(node.stop(), 'stop() after a failed start resolves')
  t.equal(node.state, 'stopped')
  await t.resolves(node.stop(), 'and again')
  await t.rejects(node.start(), { name: 'Error', message: new RegExp(`^worker ${node.hostname} cannot start: its start failed \\(${cause.source}.*\\); a node starts once, create another with app.worker\\(\\)$`) })
}

t.test('worker start - a task module that throws on import fails the start; stop() resolves; start() again is refused', async (t) => {
  const app = brokenApp(t, 'broken-import', { main: new URL('../fixtures/throws-on-import.ts', import.meta.url).href })
  const node = app.worker({ concurrency: 1, hostname: 'broken-import@%h' })
  t.equal(node.state, 'new')
  await t.rejects(node.start(), { message: 'throws-on-import: this module cannot be imported' })
  t.same(app.errors, ['worker failed to start'], 'the failure is logged')
  await afterFailedStart(t, node, /throws-on-import: this module cannot be imported/)
})

t.test('worker start - an unusable broker URL fails the start; stop() resolves', async (t) => {
  const app = brokenApp(t, 'broken-broker', { broker: 'bogus://nowhere', main: import.meta.url })
  const node = app.worker({ concurrency: 1, hostname: 'broken-broker@%h' })
  await t.rejects(node.start(), new ConfigError('config.broker: unsupported scheme in bogus://nowhere (supported: memory://, nats://, tls://)'))
  await afterFailedStart(t, node, /config\.broker: unsupported scheme/)
})

t.test('worker start - a start that fails once its threads are up terminates them', async (t) => {
  const app = brokenApp(t, 'threads-refuse', { main: new URL('../fixtures/threads-refuse.ts', import.meta.url).href })
  const threads: Worker[] = []
  const spawned = (worker: Worker) => threads.push(worker)
  process.on('worker', spawned)
  t.teardown(() => process.off('worker', spawned))
  const node = app.worker({ concurrency: 2, hostname: 'threads-refuse@%h' })
  await t.rejects(node.start(), { message: /threads-refuse: no tasks in worker threads/ })
  t.equal(threads.length, 2, 'it had started its threads')
  t.same(threads.map((thread) => thread.threadId), [-1, -1], 'both were terminated before start() rejected')
  await afterFailedStart(t, node, /threads-refuse: no tasks in worker threads/)
})

t.test('worker stop - before a start, stop() resolves at once and the node stays unstarted', async (t) => {
  const node = fixture.worker({ concurrency: 1, queues: ['never'], hostname: 'never@%h' })
  await node.stop()
  t.equal(node.state, 'stopped')
  await node.stopped
  await t.rejects(node.start(), { message: `worker ${node.hostname} cannot start: it is stopped; a node starts once, create another with app.worker()` })
})

t.test('worker stop - during the start, stop() waits for it, then stops without consuming', async (t) => {
  const node = fixture.worker({ concurrency: 1, queues: ['stop-early'], hostname: 'stop-early@%h' })
  const starting = node.start()
  t.equal(node.state, 'starting')
  const stopping = node.stop()
  t.equal(node.state, 'starting', 'the start goes on')
  await t.resolves(starting)
  await t.resolves(stopping)
  t.equal(node.state, 'stopped')
  t.equal(node.processed, 0)
  // The queue is still served by whoever starts next: nothing was taken from it.
  const result = await add.applyAsync([20, 22], { queue: 'stop-early' })
  const next = fixture.worker({ concurrency: 1, queues: ['stop-early'], hostname: 'stop-early-2@%h' })
  await next.start()
  t.teardown(() => next.stop())
  t.equal(await result.get({ timeout: 10 }), 42)
})

t.test('worker stop - twice at once, and once more after: one stop, every call resolves', async (t) => {
  const node = fixture.worker({ concurrency: 1, queues: ['twice'], hostname: 'twice@%h' })
  await node.start()
  t.equal(node.state, 'running')
  const [first, second] = [node.stop(), node.stop({ cold: true })]
  t.equal(node.state, 'draining')
  await Promise.all([first, second])
  t.equal(node.state, 'stopped')
  await t.resolves(node.stop())
  await t.rejects(node.start(), { message: /cannot start: it is stopped/ })
})

t.teardown(() => fixture.close())
