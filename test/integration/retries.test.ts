import t from 'tap'
import { MaxRetriesExceeded, TaskState, TaskRejectedError, TaskIgnoredError } from '../../src/index.js'
import { app, flaky, hopeless, autoretry, explicitRetry, rejecter, ignorer, requeueOnce } from '../fixtures/app.js'
import { lines, tempDir } from '../helpers/files.js'

const node = app.worker({ concurrency: 2, hostname: 'retries@%h' })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
})

/** Sends a task and collects every state its stream shows, starting before it is sent. */
async function statesOf(send: () => Promise<{ id: string }>, id: string) {
  const stream = app.asyncResult(id).changes()
  const first = await stream.next()
  await send()
  const states = [first.value.state]
  const changes = [first.value]
  for await (const change of stream) {
    states.push(change.state)
    changes.push(change)
  }
  return { states, changes }
}

t.test('retry - the stream shows PENDING, RECEIVED, STARTED, RETRY ... SUCCESS in order', async (t) => {
  const id = 'retry-sequence-1'
  const { states, changes } = await statesOf(() => flaky.applyAsync([2], { taskId: id }), id)
  t.same(states, ['PENDING', 'RECEIVED', 'STARTED', 'RETRY', 'RECEIVED', 'STARTED', 'RETRY', 'RECEIVED', 'STARTED', 'SUCCESS'])
  const retries = changes.filter((c) => c.state === TaskState.RETRY)
  t.same(retries.map((c) => c.error?.message), ['try 1 failed', 'try 2 failed'])
  t.same(retries.map((c) => c.error?.name), ['TransientError', 'TransientError'])
  t.equal(changes.at(-1)?.result, 2, 'ran with retries = 2 on its last try')
})

t.test('actors - a task registered after the threads started fails with NotRegistered', async (t) => {
  const tracked = app.task('t.tracked-flaky', (ctx: import('../../src/index.js').TaskContext) => {
    if (ctx.request.retries < 1) ctx.retry({ countdown: 0.01 })
    return 'ok'
  }, { bind: true, trackStarted: true })
  // Registered after the threads started: the threads do not know it, and must say so.
  const result = await tracked.delay()
  await t.rejects(result.get({ timeout: 5 }), { name: 'NotRegistered', message: /t\.tracked-flaky is not registered in worker thread/ })
})

t.test('retry - after maxRetries the task fails with the last retry\'s exc, as Celery re-raises it (issue 18)', async (t) => {
  const id = 'hopeless-1'
  const { states, changes } = await statesOf(() => hopeless.applyAsync([], { taskId: id }), id)
  t.same(states, ['PENDING', 'RECEIVED', 'RETRY', 'RECEIVED', 'RETRY', 'RECEIVED', 'FAILURE'])
  const error = changes.at(-1)!.error!
  t.equal(error.name, 'TransientError')
  t.equal(error.message, 'still broken')
  await t.rejects(app.asyncResult(id).get({ timeout: 5 }), { name: 'TransientError', message: 'still broken' }, 'get() raises it too')
})

t.test('retry - autoretryFor retries with exponential backoff, then succeeds', async (t) => {
  const file = `${tempDir(t)}/runs`
  const result = await autoretry.delay(file, 3)
  t.equal(await result.get({ timeout: 10 }), 3)
  const times = lines(file).map((line) => Number(line.split(' ')[0]))
  t.equal(times.length, 4)
  const gaps = times.slice(1).map((time, i) => time - times[i])
  // retryBackoff 0.02 s without jitter: 20, 40, 80 ms.
  t.ok(gaps[0] >= 18 && gaps[1] >= 38 && gaps[2] >= 78, `backoff gaps grow: ${gaps.join(', ')} ms`)
})

t.test('retry - a thrown Retry with its own maxRetries', async (t) => {
  const result = await explicitRetry.delay(1)
  const error = await result.get({ timeout: 5 }).catch((e: unknown) => e)
  t.type(error, MaxRetriesExceeded, 'a retry without exc: MaxRetriesExceeded')
  t.match((error as Error).message, /gave up after 1 retries \(maxRetries 1\)$/)
})

t.test('signals - Reject ends the task REJECTED and dead-letters nothing that was acked', async (t) => {
  const result = await rejecter.delay()
  const error = await result.get({ timeout: 5, propagate: false })
  t.equal(await result.state(), TaskState.REJECTED)
  t.type(error, TaskRejectedError)
  t.equal((error as Error).message, 'not for us')
})

t.test('signals - Ignore ends the task IGNORED; get settles instead of waiting forever', async (t) => {
  const result = await ignorer.delay()
  await t.rejects(result.get({ timeout: 5 }), TaskIgnoredError)
  t.equal(await result.state(), TaskState.IGNORED)
})

t.test('signals - Reject with requeue puts the task back; it runs again', async (t) => {
  const file = `${tempDir(t)}/requeue`
  const result = await requeueOnce.delay(file)
  t.equal(await result.get({ timeout: 5 }), 'ran after a requeue')
  t.same(lines(file), ['rejected', 'ran'])
})
