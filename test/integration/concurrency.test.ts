import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TimeLimitExceeded, WorkerLostError } from '../../src/index.js'
import { app, hog, napThenHog, napThenSpin, overlap, record, waiter } from '../fixtures/concurrency-app.js'
import { celeriac } from '../helpers/cli.js'
import { until } from '../helpers/until.js'
import { consoleLogger } from '../../src/util/logger.js'
import { tempDir } from '../helpers/files.js'

const fixture = fileURLToPath(new URL('../fixtures/concurrency-app.ts', import.meta.url))

t.teardown(() => app.close())

/** Runs `body` with a node of this app consuming `queue`, stopped afterwards. */
async function withNode(options: Parameters<typeof app.worker>[0] & { queues: string[] }, body: (hostname: string) => Promise<void>): Promise<void> {
  const node = app.worker({ hostname: `${options.queues[0]}@%h`, ...options })
  await node.start()
  try {
    await body(node.hostname)
  } finally {
    await node.stop({ cold: true })
  }
}

t.test('concurrency 1 with tasksPerThread 1 runs one task at a time: no two interleave', async (t) => {
  await withNode({ concurrency: 1, tasksPerThread: 1, queues: ['serial'] }, async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => overlap.applyAsync([15], { queue: 'serial' })))
    const peaks = await Promise.all(results.map((r) => r.get({ timeout: 10 })))
    t.same(peaks, [1, 1, 1, 1, 1, 1], 'each task ran alone on the thread')
  })
})

t.test('tasksPerThread N lets one thread run N async tasks at once (the same check can fail)', async (t) => {
  await withNode({ concurrency: 1, tasksPerThread: 4, queues: ['four'] }, async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => overlap.applyAsync([50], { queue: 'four' })))
    const peaks = await Promise.all(results.map((r) => r.get({ timeout: 10 })))
    t.equal(Math.max(...peaks), 4, 'four ran together, never more')
  })
})

t.test('prefetch is the deprecated name of tasksPerThread; both different is an error naming them', async (t) => {
  t.equal(app.worker({ prefetch: 3 }).options.tasksPerThread, 3)
  t.equal(app.worker({ tasksPerThread: 5 }).options.prefetch, 5)
  t.throws(() => app.worker({ prefetch: 3, tasksPerThread: 5 }), {
    name: 'InvalidArgumentError',
    message: 'options.prefetch is the deprecated name of options.tasksPerThread: give one, not both (got tasksPerThread 5 and prefetch 3)',
  })
  t.throws(() => app.worker({ tasksPerThread: 0 }), { name: 'InvalidArgumentError', message: 'options.tasksPerThread must be a positive integer, got 0' })
})

t.test('config: workerTasksPerThread is the default; a set workerPrefetchMultiplier (deprecated) is used in its place', async (t) => {
  t.equal(app.worker().options.tasksPerThread, app.conf.workerTasksPerThread)
  app.conf.update({ workerTasksPerThread: 7 })
  t.equal(app.worker().options.tasksPerThread, 7)
  app.conf.update({ workerPrefetchMultiplier: 2 })
  t.equal(app.worker().options.tasksPerThread, 2)
  app.conf.update({ workerPrefetchMultiplier: null, workerTasksPerThread: 32 })
})

t.test('a hard limit or a revoke with terminate stops one awaiting task: the tasks beside it on its thread finish', async (t) => {
  await withNode({ concurrency: 1, tasksPerThread: 4, queues: ['letgo'] }, async (hostname) => {
    const siblings = await Promise.all(Array.from({ length: 2 }, () => waiter.applyAsync([600], { queue: 'letgo' })))
    const limited = await waiter.applyAsync([5_000], { queue: 'letgo', timeLimit: 0.3 })
    await t.rejects(limited.get({ timeout: 10 }), { name: 'TimeLimitExceeded', message: /exceeded its hard time limit of 0\.3s and was let go/ })
    t.same(await Promise.all(siblings.map((r) => r.get({ timeout: 10 }))), ['waited', 'waited'], 'the tasks beside it ran to their end')
    const more = await Promise.all(Array.from({ length: 2 }, () => waiter.applyAsync([600], { queue: 'letgo' })))
    const revoked = await waiter.applyAsync([5_000], { queue: 'letgo' })
    await until(async () => (await app.control.inspect({ destination: hostname, timeout: 1 }).active())[hostname]?.ok?.length, (running) => running === 3, 'the three to run')
    await revoked.revoke({ terminate: true })
    await t.rejects(revoked.get({ timeout: 10 }), { name: 'TaskRevokedError', message: /revoked and terminated/ })
    t.same(await Promise.all(more.map((r) => r.get({ timeout: 10 }))), ['waited', 'waited'], 'so did the ones beside the revoked one')
    t.equal(await (await waiter.applyAsync([1], { queue: 'letgo' })).get({ timeout: 10 }), 'waited', 'a new thread took its place')
  })
})

t.test('a sibling that holds the loop a while after a revoke with terminate is not taken for the stopped task: it finishes', async (t) => {
  // Found by an outside audit: a thread that missed its beats for 50 ms (a burst of work, or
  // not scheduled on a loaded machine) after a task was let go was terminated, failing the
  // tasks beside it with WorkerLostError.
  await withNode({ concurrency: 1, tasksPerThread: 3, queues: ['busysibling'] }, async (hostname) => {
    const sibling = await napThenHog.applyAsync([800, 300], { queue: 'busysibling' })
    const revoked = await waiter.applyAsync([5_000], { queue: 'busysibling' })
    await until(async () => (await app.control.inspect({ destination: hostname, timeout: 1 }).active())[hostname]?.ok?.length, (running) => running === 2, 'both to run')
    await revoked.revoke({ terminate: true })
    await t.rejects(revoked.get({ timeout: 10 }), { name: 'TaskRevokedError' })
    t.equal(await sibling.get({ timeout: 10 }), 'held', 'the task beside it held the loop 300 ms and finished')
  })
})

t.test('a task let go at its limit that then holds its thread gets the thread terminated: nothing waits on it for good', async (t) => {
  await withNode({ concurrency: 1, tasksPerThread: 2, queues: ['spinafter'] }, async () => {
    const beside = await waiter.applyAsync([5_000], { queue: 'spinafter' })
    const limited = await napThenSpin.applyAsync([400], { queue: 'spinafter', timeLimit: 0.1 })
    await t.rejects(limited.get({ timeout: 10 }), { name: 'TimeLimitExceeded', message: /was let go/ })
    // Its loop holds the thread before the task beside it can end: terminating it is all that is left.
    await t.rejects(beside.get({ timeout: 10 }), WorkerLostError)
    t.equal(await (await waiter.applyAsync([1], { queue: 'spinafter' })).get({ timeout: 10 }), 'waited', 'a new thread took its place')
  })
})

t.test('a task waiting on its thread behind one that holds it is not acked yet, and a revoke stops it', async (t) => {
  await withNode({ concurrency: 1, tasksPerThread: 4, queues: ['behind'] }, async (hostname) => {
    const file = `${tempDir(t)}/behind`
    // Sent together, so both go to the one thread in one batch: the hog starts, and holds the
    // thread before the other can start.
    const [hogging, queued] = await Promise.all([hog.applyAsync([1_500], { queue: 'behind' }), record.applyAsync([file, 1, 0], { queue: 'behind' })])
    await until(async () => (await app.control.inspect({ destination: hostname, timeout: 1 }).stats())[hostname]?.ok?.pool.held, (held) => held === 1, 'the hog to hold the thread')
    await queued.revoke()
    await t.rejects(queued.get({ timeout: 10 }), { name: 'TaskRevokedError' })
    t.equal(await hogging.get({ timeout: 10 }), 'done')
    t.throws(() => readFileSync(file, 'utf8'), { code: 'ENOENT' }, 'the revoked task never ran')
  })
})

t.test('a CPU-bound task does not hold a sibling past its hard limit: the watchdog is on the main thread', async (t) => {
  await withNode({ concurrency: 1, tasksPerThread: 2, queues: ['busy'] }, async () => {
    const waiting = await waiter.applyAsync([3_000], { queue: 'busy', timeLimit: 0.3 })
    const hogging = await hog.applyAsync([2_000], { queue: 'busy' })
    const began = Date.now()
    await t.rejects(waiting.get({ timeout: 10 }), TimeLimitExceeded)
    t.ok(Date.now() - began < 1_900, 'failed at its limit, before the hog let go of the thread')
    // The thread was terminated with the hog on it: that task is lost with it.
    await t.rejects(hogging.get({ timeout: 10 }), WorkerLostError)
  })
})

t.test('a thread a CPU-bound task holds gets no new task: they run on the other thread meanwhile, inspect stats counts it held, and a warning names the task', async (t) => {
  const warnings: { message: string; fields?: Record<string, unknown> }[] = []
  const quiet = () => {}
  app.useLogger({ debug: quiet, info: quiet, error: quiet, warn: (message, fields) => void warnings.push({ message, ...(fields ? { fields } : {}) }) })
  t.teardown(() => app.useLogger(consoleLogger()))
  await withNode({ concurrency: 2, tasksPerThread: 4, queues: ['held'] }, async (hostname) => {
    const stats = async () => (await app.control.inspect({ destination: hostname, timeout: 2 }).stats())[hostname]?.ok
    t.equal((await stats())?.pool.held, 0, 'no thread is held while none runs a task')
    const hogging = await hog.applyAsync([3_000], { queue: 'held' })
    await until(stats, (s) => s?.pool.held === 1, 'the hog to hold its thread')
    // Without the check, the held thread (3 free slots) and the other (4, then 3 ...) take turns.
    const sent = await Promise.all(Array.from({ length: 8 }, (_, i) => overlap.applyAsync([20 + i], { queue: 'held' })))
    const peaks = await Promise.all(sent.map((r) => r.get({ timeout: 10 })))
    t.notOk(await hogging.ready(), 'all eight ended while the hog still held its thread')
    t.ok(peaks.every((peak) => peak >= 1 && peak <= 4), 'on the free thread, four at a time at most')
    t.equal((await stats())?.pool.held, 1, 'still held')
    // Once the hold has lasted a second: one line, naming the task.
    await until(async () => warnings.length, (n) => n > 0, 'the warning')
    t.match(warnings, [{ message: /^task c\.hog held its worker thread for 1\.\d s: the tasks already on that thread waited for it\. Run CPU-bound tasks on a queue of their own, served by a worker with --tasks-per-thread 1$/, fields: { hostname, task: 'c.hog', id: hogging.id } }])
  })
})

t.test('tasks sent to a thread before a CPU-bound task held it, and not started, are taken back: each runs once, on the other thread', async (t) => {
  const runs = join(tempDir(t), 'runs')
  await withNode({ concurrency: 2, tasksPerThread: 4, queues: ['taken'] }, async (hostname) => {
    // Sent together, so that some land on the hog's thread behind it before it counts as held.
    const [hogging, ...sent] = await Promise.all([hog.applyAsync([1_500], { queue: 'taken' }), ...Array.from({ length: 6 }, (_, i) => record.applyAsync([runs, i, 20], { queue: 'taken' }))])
    t.same(await Promise.all(sent.map((r) => r.get({ timeout: 10 }))), [0, 1, 2, 3, 4, 5])
    t.notOk(await hogging.ready(), 'all six ended while the hog still held its thread')
    t.equal((await app.control.inspect({ destination: hostname, timeout: 2 }).stats())[hostname]?.ok?.pool.held, 1, 'the hog still holds its thread')
    // Let go, the hog's thread meets the tasks taken from it, and skips them: a run would have
    // written its number before the hog's result was sent.
    t.equal(await hogging.get({ timeout: 10 }), 'done')
    t.same(readFileSync(runs, 'utf8').split('\n').filter(Boolean).map(Number).sort(), [0, 1, 2, 3, 4, 5], 'each ran once')
    // The slots of the skipped tasks are free again: eight tasks run at once, four on each thread.
    await Promise.all(Array.from({ length: 8 }, () => overlap.applyAsync([5_000], { queue: 'taken' })))
    const active = await until(() => app.control.inspect({ destination: hostname, timeout: 2 }).active(), (a) => a[hostname]?.ok?.length === 8, 'eight tasks to run at once')
    t.equal(active[hostname]?.ok?.length, 8, 'every slot of both threads in use')
  })
})

t.test('cli: --tasks-per-thread and CELERIAC_WORKER_TASKS_PER_THREAD are checked, naming themselves', async (t) => {
  const [flag, env] = await Promise.all([
    celeriac(['worker', '-A', fixture, '-c', '1', '--tasks-per-thread', '0']),
    celeriac(['status', '-A', fixture], { CELERIAC_WORKER_TASKS_PER_THREAD: 'lots' }),
  ])
  t.equal(flag.code, 2)
  t.match(flag.stderr, '--tasks-per-thread must be a positive integer, got "0"')
  t.same([env.code, env.stderr], [2, 'celeriac: CELERIAC_WORKER_TASKS_PER_THREAD: config.workerTasksPerThread must be a positive integer, got "lots"\n'])
})

t.test('cli: worker --help names both knobs and the serialising setting', async (t) => {
  const help = await celeriac(['worker', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /-c, --concurrency <n> +worker threads: tasks using a CPU core at once/)
  t.match(help.stdout, /--tasks-per-thread <n> +async tasks each thread runs at once; -c 1 --tasks-per-thread 1/)
  t.match(help.stdout, /--prefetch <n> +deprecated name of --tasks-per-thread/)
})
