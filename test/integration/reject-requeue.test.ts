// An outside audit found that Reject with requeue lost an early-acked task (the default) after
// its second delivery: the node re-sent the acked message under the same message id each time,
// so the broker's duplicate window dropped the second copy (PENDING forever, no dead letter, no
// log line), and the copy did not read as redelivered. Run on memory:// and on a real nats-server.
import t from 'tap'
import { TaskRejectedError } from '../../src/index.js'
import { startNatsServer } from '../../src/testing/nats-server.js'
import { lines, tempDir } from '../helpers/files.js'
import { until } from '../helpers/until.js'
import type { Fixture } from '../fixtures/signals-flow-app.js'
import type { Logger } from '../../src/util/logger.js'
import type { Test } from 'tap'

const T = { timeout: 20 }
const server = await startNatsServer()
process.env.SIGFLOW_BROKER_URL = server.url
const { memory, nats } = await import('../fixtures/signals-flow-app.js')
t.teardown(() => server.cleanup())

function cases(t: Test, fx: Fixture, warnings: string[]): void {
  const { app, requeued, requeuedLate } = fx

  t.test('Reject requeue - an early-acked task requeued three times runs a fourth, each copy a redelivery, as an acksLate one', async (t) => {
    for (const task of [requeued, requeuedLate]) {
      const file = `${tempDir(t)}/${task.name}`
      const result = await task.delay(file, 3)
      t.same(await result.get(T), [false, true, true, true], `${task.name}: ran once more after 3 requeues; every later delivery saw redelivered`)
      t.equal(await result.state(), 'SUCCESS')
    }
    t.same(await app.deadLetters('celery'), [], 'nothing was dead-lettered')
  })

  t.test('Reject requeue - past the queue\'s maxDeliver an early-acked task is dead-lettered, REJECTED and logged, as an acksLate one', async (t) => {
    let letters = 0
    for (const task of [requeued, requeuedLate]) {
      const file = `${tempDir(t)}/${task.name}`
      // 'bounded' allows 3 deliveries: the third requeue is refused.
      const result = await task.applyAsync([file, 99], { queue: 'bounded' })
      const error = await result.get(T).catch((e: unknown) => e)
      t.match(error, { name: 'TaskRejectedError', message: 'run 3 (max-deliveries: delivered 3 times)' }, `${task.name}: get() settles with why`)
      t.ok(error instanceof TaskRejectedError)
      t.equal(await result.state(), 'REJECTED')
      t.same(lines(file), ['false', 'true', 'true'], `${task.name}: ran on its 3 allowed deliveries, no more`)
      const dead = await until(() => app.deadLetters('bounded'), (l) => l.length === letters + 1, `${task.name} dead-lettered`)
      t.match(dead.at(-1), { queue: 'bounded', reason: 'max-deliveries: delivered 3 times' })
      letters++
      t.ok(warnings.includes(`task ${task.name}[${result.id}] rejected: run 3 (dead-lettered, max-deliveries: delivered 3 times)`), `${task.name}: a log line names the task and says why`)
    }
  })
}

for (const [where, fx] of [['memory://', memory], ['NATS', nats]] as const) {
  t.test(`on ${where}`, async (t) => {
    const warnings: string[] = []
    const quiet = () => {}
    const capture: Logger = { debug: quiet, info: quiet, warn: (message) => warnings.push(message), error: quiet }
    fx.app.useLogger(capture)
    const node = fx.app.worker({ concurrency: 2, queues: ['celery', 'bounded'] })
    await node.start()
    t.teardown(async () => {
      await node.stop()
      await fx.app.close()
    })
    cases(t, fx, warnings)
  })
}
