import t from 'tap'
import { obeysInterval } from '../helpers/spacing.js'
import { TaskRevokedError, TaskState } from '../../src/index.js'
import { app, add, stamp, limited, sleepy } from '../fixtures/app.js'
import { lines, tempDir } from '../helpers/files.js'

const node = app.worker({ concurrency: 2, hostname: 'scheduling@%h' })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
})

t.test('countdown - the task runs no earlier than its countdown', async (t) => {
  const file = `${tempDir(t)}/stamps`
  const sent = Date.now()
  const result = await stamp.applyAsync([file], { countdown: 0.3 })
  const ranAt = await result.get({ timeout: 5 })
  t.ok(ranAt - sent >= 300, `ran ${ranAt - sent} ms after sending`)
  t.ok(ranAt - sent < 1500, 'and not much later')
  t.equal(lines(file).length, 1, 'ran once')
})

t.test('eta - the task runs no earlier than its eta; tasks sent after it without eta run first', async (t) => {
  const file = `${tempDir(t)}/stamps`
  const eta = new Date(Date.now() + 250)
  const later = await stamp.applyAsync([file], { eta })
  const now = await stamp.delay(file)
  const [laterAt, nowAt] = await Promise.all([later.get({ timeout: 5 }), now.get({ timeout: 5 })])
  t.ok(laterAt >= eta.getTime(), 'eta respected')
  t.ok(nowAt < laterAt, 'a delayed task does not block the queue')
})

t.test('expires - an expired task is REVOKED without running', async (t) => {
  const file = `${tempDir(t)}/stamps`
  const result = await stamp.applyAsync([file], { countdown: 0.2, expires: 0.05 })
  const error = await result.get({ timeout: 5, propagate: false })
  t.type(error, TaskRevokedError)
  t.match((error as unknown as Error).message, /expired/)
  t.equal(await result.state(), TaskState.REVOKED)
  t.same(lines(file), [], 'never ran')
  // CLI audit: as Celery's, an expired task is among the node's revoked ids.
  t.ok((await app.control.inspect({ destination: node.hostname }).revoked())[node.hostname]?.ok?.includes(result.id), 'inspect revoked lists it')
  const absolute = await stamp.applyAsync([file], { expires: new Date(Date.now() - 1000) })
  await t.rejects(absolute.get({ timeout: 5 }), TaskRevokedError)
})

t.test('revoke - a task revoked before it starts never runs', async (t) => {
  const file = `${tempDir(t)}/stamps`
  const result = await stamp.applyAsync([file], { countdown: 0.2 })
  await result.revoke()
  await t.rejects(result.get({ timeout: 5 }), { name: 'TaskRevokedError', message: /revoked/ })
  t.equal(await result.state(), TaskState.REVOKED)
  t.same(lines(file), [])
})

t.test('revoke - terminate stops a running task and the node keeps serving', async (t) => {
  const file = `${tempDir(t)}/sleepy`
  const result = await sleepy.delay(5000, file)
  for await (const change of result.changes()) if (change.state === TaskState.RECEIVED) break
  while (lines(file).length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  await result.revoke({ terminate: true })
  await t.rejects(result.get({ timeout: 5 }), { name: 'TaskRevokedError', message: /terminated/ })
  t.same(lines(file).map((l) => l.split(' ')[0]), ['start'], 'did not finish')
  t.equal(await (await add.delay(2, 2)).get({ timeout: 5 }), 4)
})

t.test('rate limit - 10/s: six runs span at least five intervals, none bunched', async (t) => {
  const file = `${tempDir(t)}/limited`
  const results = await Promise.all(Array.from({ length: 6 }, () => limited.delay(file)))
  await Promise.all(results.map((r) => r.get({ timeout: 10 })))
  const times = lines(file).map(Number).sort((a, b) => a - b)
  const spacing = obeysInterval(times, 100)
  t.ok(spacing.ok, spacing.detail)
})

t.test('expires - a task that expires while waiting for its rate limit is REVOKED without running', async (t) => {
  const file = `${tempDir(t)}/limited`
  const results = await Promise.all(Array.from({ length: 4 }, (_, i) => limited.applyAsync([file], { expires: i === 3 ? 0.15 : 60 })))
  await Promise.all(results.slice(0, 3).map((r) => r.get({ timeout: 5 })))
  await t.rejects(results[3].get({ timeout: 5 }), { name: 'TaskRevokedError', message: /expired/ })
  t.equal(lines(file).length, 3, 'the expired one never ran')
})
