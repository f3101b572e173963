import t from 'tap'
import { app, add, explicitRetry, ignorer, rejecter, sleepy } from '../fixtures/app.js'
import { consoleLogger, type Logger } from '../../src/util/logger.js'
import { until } from '../helpers/until.js'

// A worker's line per task at info and warning, as Celery's worker logs them, through the
// app's logger (the CLI's -l info writes the same lines).
const lines: string[] = []
const keep = (level: string) => (message: string) => void lines.push(`${level} ${message}`)
const logger: Logger = { debug: () => {}, info: keep('info'), warn: keep('warn'), error: keep('error'), isLevelEnabled: (level) => level !== 'debug' }
app.useLogger(logger)
t.teardown(async () => {
  app.useLogger(consoleLogger())
  await app.close()
})

t.test('reject, ignore, a retry without a cause, a revoked task: each has its line', async (t) => {
  // Revoked before any node takes it: the node that receives it discards it.
  const revoked = await add.applyAsync([1, 1], { queue: 'later' })
  await app.control.revoke(revoked.id)
  const node = app.worker({ concurrency: 1, hostname: 'lines@test', queues: ['celery', 'later'] })
  await node.start()
  t.teardown(() => node.stop())
  const sent = await Promise.all([rejecter.delay(), ignorer.delay(), explicitRetry.delay(1)])
  const [reject, ignore, retry] = sent.map((r) => `${r.id}]`)
  const named = (text: string) => lines.find((line) => line.includes(text))
  await until(() => lines.length, () => [reject, ignore, retry, `${revoked.id}]`].every((id) => named(id) !== undefined) && lines.some((line) => line.includes(`${retry} retry in`)), 'the lines', 10_000)
  // Celery audit: an early-acked task's line said dead-lettered, and nothing was.
  t.equal(named(`t.reject[${reject} rejected`), `warn task t.reject[${reject} rejected: not for us (not dead-lettered: it was acked as it started, and only a task with acksLate is)`)
  t.equal(named(`t.ignore[${ignore} ignored`), `info task t.ignore[${ignore} ignored`)
  t.equal(named(`t.explicitRetry[${retry} retry`), `info task t.explicitRetry[${retry} retry in 0.010 s`, 'no cause given: none named')
  t.equal(named(`${revoked.id}] discarded`), `info task t.add[${revoked.id}] discarded: revoked`)
})

t.test('a warm stop that runs past its shutdown timeout says so, and so does the task it stops', async (t) => {
  const node = app.worker({ concurrency: 1, hostname: 'late@test', queues: ['late'], shutdownTimeout: 0.3 })
  await node.start()
  const running = await sleepy.applyAsync([5_000], { queue: 'late' })
  await until(() => node.active, (n) => n === 1, 'the task to be on the node')
  await node.stop()
  t.ok(lines.some((line) => line === 'warn warm shutdown: tasks still running after 0.3 s (workerShutdownTimeout): stopping them'), 'the node says why it stopped them')
  await t.rejects(running.get({ timeout: 5 }), { name: 'WorkerLostError', message: /was still running when worker late@test stopped past its warm shutdown's 0\.3 s \(workerShutdownTimeout\)/ })
})
