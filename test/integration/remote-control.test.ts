import t from 'tap'
import { TaskState } from '../../src/index.js'
import { app, add, limited, sleepy, stamp } from '../fixtures/app.js'
import { lines, tempDir } from '../helpers/files.js'
import { until } from '../helpers/until.js'

// Two nodes in one process on memory://: the same commands as across processes on NATS.
const one = app.worker({ concurrency: 1, hostname: 'rc-one@%h', queues: ['rc-one'] })
const two = app.worker({ concurrency: 1, hostname: 'rc-two@%h', queues: ['rc-two'] })
t.before(() => Promise.all([one.start(), two.start()]))
t.teardown(async () => {
  await Promise.all([one.stop(), two.stop()])
  await app.close()
})


t.test('remote control - ping: every node answers; destination narrows it and returns early', async (t) => {
  const all = await app.control.ping({ timeout: 2 })
  t.same(all, { [one.hostname]: { ok: 'pong' }, [two.hostname]: { ok: 'pong' } })
  const started = Date.now()
  t.same(await app.control.ping({ destination: two.hostname, timeout: 5 }), { [two.hostname]: { ok: 'pong' } })
  t.ok(Date.now() - started < 4_000, 'returned once the named node answered, before the timeout')
  t.same(await app.control.ping({ destination: 'nobody@nowhere', timeout: 0.1 }), {}, 'nobody answers for an unknown node')
})

t.test('remote control - inspect active shows the running task with its arguments', async (t) => {
  const running = await sleepy.applyAsync([600], { queue: 'rc-one' })
  const inspect = app.control.inspect({ destination: one.hostname })
  const active = await until(() => inspect.active(), (r) => r[one.hostname]?.ok?.length === 1, 'the task to run')
  t.match(active[one.hostname].ok![0], { id: running.id, name: 't.sleepy', args: [600], hostname: one.hostname, acknowledged: true, deliveryInfo: { queue: 'rc-one' }, workerPid: process.pid })
  t.type(active[one.hostname].ok![0].timeStart, 'number')
  await running.get({ timeout: 5 })
})

t.test('remote control - registered, stats, conf, revoked, scheduled', async (t) => {
  const inspect = app.control.inspect({ destination: [one.hostname], timeout: 2 })
  t.ok((await inspect.registered())[one.hostname].ok!.includes('t.add'))
  await (await add.applyAsync([1, 1], { queue: 'rc-one' })).get({ timeout: 5 })
  const stats = (await inspect.stats())[one.hostname].ok!
  t.match(stats, { hostname: one.hostname, pid: process.pid, pool: { threads: 1 }, queues: ['rc-one'], broker: { transport: 'memory', url: 'memory://fixture' }, events: false })
  t.ok(stats.total['t.add'] >= 1, 'counts finished tasks by name')
  t.match((await inspect.conf())[one.hostname].ok, { broker: 'memory://fixture', taskDefaultQueue: 'celery' })
  const later = await stamp.applyAsync([''], { queue: 'rc-one', countdown: 30 })
  // The broker holds a task until its eta: a node lists only those it saw early and gave back.
  t.same((await inspect.scheduled())[one.hostname].ok, [])
  await later.revoke()
  t.ok((await inspect.revoked())[one.hostname].ok!.includes(later.id))
})

t.test('remote control - rate_limit also changes the rate of a task that already ran at its own', async (t) => {
  const file = `${tempDir(t)}/relimited`
  await (await limited.applyAsync([file], { queue: 'rc-two' })).get({ timeout: 5 })
  t.same(await app.control.rateLimit('t.limited', '4/s', { destination: two.hostname }), { [two.hostname]: { ok: 'new rate limit set successfully' } })
  await Promise.all((await Promise.all(Array.from({ length: 3 }, () => limited.applyAsync([file], { queue: 'rc-two' })))).map((r) => r.get({ timeout: 10 })))
  // Start times are taken in the thread, each a wake-up after its release: one gap can come out a
  // little short of 250 ms (238 in one CI run), their sum cannot come near 10/s's 200.
  const times = lines(file).map(Number).slice(1)
  t.ok(times[2] - times[0] >= 450, `at 4/s, not its own 10/s (${times[1] - times[0]}, ${times[2] - times[1]} ms apart)`)
})

t.test('remote control - rate_limit applies at once; an unknown task is an error reply', async (t) => {
  const file = `${tempDir(t)}/limited`
  const replies = await app.control.rateLimit('t.limited', '2/s', { destination: one.hostname })
  t.same(replies, { [one.hostname]: { ok: 'new rate limit set successfully' } })
  const results = await Promise.all(Array.from({ length: 3 }, () => limited.applyAsync([file], { queue: 'rc-one' })))
  const reserved = await until(() => app.control.inspect({ destination: one.hostname }).reserved(), (r) => (r[one.hostname]?.ok?.length ?? 0) > 0, 'a task to wait for its rate limit')
  t.match(reserved[one.hostname].ok![0], { name: 't.limited', timeStart: null, args: [file] })
  await Promise.all(results.map((r) => r.get({ timeout: 10 })))
  const times = lines(file).map(Number)
  t.ok(times[2] - times[0] >= 900, `3 tasks at 2/s took ${times[2] - times[0]} ms (10/s would take 200)`)
  t.same(await app.control.rateLimit('t.nope', '1/s', { destination: one.hostname }), { [one.hostname]: { error: `task "t.nope" is not registered on ${one.hostname}` } })
  t.throws(() => app.control.rateLimit('t.limited', 'fast'), { message: `rateLimit must be a rate like '10/s', '10/m' or '10/h', got "fast"` })
})

t.test('remote control - time_limit: a hard limit set remotely stops a long task', async (t) => {
  t.same(await app.control.timeLimit('t.sleepy', { hard: 0.2 }, { destination: two.hostname }), { [two.hostname]: { ok: 'time limits set successfully' } })
  const result = await sleepy.applyAsync([3_000], { queue: 'rc-two' })
  await t.rejects(result.get({ timeout: 10 }), { name: 'TimeLimitExceeded' })
  await app.control.timeLimit('t.sleepy', { hard: null }, { destination: two.hostname })
  t.equal(await (await sleepy.applyAsync([50], { queue: 'rc-two' })).get({ timeout: 5 }), 50)
})

t.test('remote control - revoke with terminate stops the running task', async (t) => {
  const result = await sleepy.applyAsync([5_000], { queue: 'rc-two' })
  await until(() => app.control.inspect({ destination: two.hostname }).active(), (r) => r[two.hostname]?.ok?.length === 1, 'the task to run')
  const replies = await app.control.revoke(result.id, { terminate: true, reply: true, destination: two.hostname })
  t.same(replies, { [two.hostname]: { ok: `tasks ${result.id} flagged as revoked` } })
  await t.rejects(result.get({ timeout: 5 }), { name: 'TaskRevokedError' })
  t.equal(await result.state(), TaskState.REVOKED)
})

t.test('remote control - enable_events / disable_events switch task events', async (t) => {
  const stream = app.events.subscribe('task-succeeded')
  await stream.ready
  t.same(await app.control.enableEvents({ destination: one.hostname }), { [one.hostname]: { ok: 'task events enabled' } })
  const result = await add.applyAsync([2, 3], { queue: 'rc-one' })
  for await (const event of stream) if (event.type === 'task-succeeded' && event.uuid === result.id) break
  t.equal(one.options.sendEvents, true)
  await app.control.disableEvents({ destination: one.hostname })
  t.equal(one.options.sendEvents, false)
})

t.test('remote control - add_consumer / cancel_consumer change the queues a node takes', async (t) => {
  t.same(await app.control.addConsumer('rc-extra', { destination: two.hostname }), { [two.hostname]: { ok: 'add consumer rc-extra' } })
  const result = await add.applyAsync([4, 4], { queue: 'rc-extra' })
  t.equal(await result.get({ timeout: 5 }), 8)
  t.equal((await result.changes().next()).value?.worker, two.hostname)
  t.same(await app.control.cancelConsumer('rc-extra', { destination: two.hostname }), { [two.hostname]: { ok: 'no longer consuming from rc-extra' } })
  t.same(two.options.queues, ['rc-two'])
  // CLI audit: an error here made a broadcast cancel exit 1 where it worked.
  t.same(await app.control.cancelConsumer('rc-extra', { destination: two.hostname }), { [two.hostname]: { ok: 'was not consuming from rc-extra' } })
})

t.test('remote control - pool_grow / pool_shrink resize the thread pool', async (t) => {
  // Answered at once, as Celery does ('pool will grow'): the new thread starts after the reply.
  t.same(await app.control.poolGrow(1, { destination: one.hostname }), { [one.hostname]: { ok: 'pool will grow to 2 threads' } })
  const stats = await app.control.inspect({ destination: one.hostname }).stats()
  t.equal(stats[one.hostname].ok!.pool.threads, 2)
  t.same(await app.control.poolShrink(1, { destination: one.hostname }), { [one.hostname]: { ok: 'pool shrunk to 1 thread' } })
  // CLI audit: at one thread it said 'pool shrunk to 1 threads', and clamped without a word.
  t.same(await app.control.poolShrink(1, { destination: one.hostname }), { [one.hostname]: { ok: 'pool stays at 1 thread: a node keeps at least one' } })
  t.same(await app.control.poolShrink(0, { destination: one.hostname }), { [one.hostname]: { error: 'n must be a positive integer, got 0' } })
})

t.test('remote control - shutdown stops the named node warm; the other serves on', async (t) => {
  const node = app.worker({ concurrency: 1, hostname: 'rc-doomed@%h', queues: ['rc-doomed'] })
  await node.start()
  t.same(await app.control.shutdown({ destination: node.hostname }), { [node.hostname]: { ok: 'shutting down' } })
  await node.stopped
  t.same(await app.control.ping({ destination: node.hostname, timeout: 0.2 }), {}, 'a stopped node does not answer')
  t.same(Object.keys(await app.control.ping({ timeout: 2 })).sort(), [one.hostname, two.hostname].sort())
})

t.test('remote control - bad calls say what is wrong', async (t) => {
  await t.rejects(app.control.broadcast('frobnicate' as never), { message: /^unknown control command "frobnicate" \(known: ping, active/ })
  await t.rejects(app.control.ping({ destination: [] }), { message: 'options.destination must name at least one node' })
  await t.rejects(app.control.ping({ timeout: 0 }), { message: 'options.timeout must be more than 0' })
})
