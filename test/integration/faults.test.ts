import t from 'tap'
import { TaskState, TimeLimitExceeded, WorkerLostError } from '../../src/index.js'
import { app, add, spin, softie, crashOnce, crashAlways, hog, whoami, sleepy } from '../fixtures/app.js'
import { lines, tempDir } from '../helpers/files.js'

const node = app.worker({ concurrency: 2, hostname: 'faults@%h' })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
})

t.test('time limit - the hard limit terminates a while(true) task and the node keeps serving', async (t) => {
  const result = await spin.delay()
  const error = await result.get({ timeout: 10, propagate: false })
  t.type(error, TimeLimitExceeded)
  t.match((error as Error).message, /t\.spin\[.*\] exceeded its hard time limit of 0\.3s and its thread was terminated/)
  t.equal(await result.state(), TaskState.FAILURE)
  const sums = await Promise.all([1, 2, 3, 4].map(async (i) => (await add.delay(i, i)).get({ timeout: 5 })))
  t.same(sums, [2, 4, 6, 8], 'a new thread took the dead one\'s place')
})

t.test('time limit - tasks queued behind a runaway on the same thread run elsewhere', async (t) => {
  const runaway = await spin.delay()
  const others = await Promise.all(Array.from({ length: 12 }, (_, i) => add.delay(i, 1)))
  const values = await Promise.all(others.map((r) => r.get({ timeout: 10 })))
  t.same(values, Array.from({ length: 12 }, (_, i) => i + 1))
  await t.rejects(runaway.get({ timeout: 10 }), TimeLimitExceeded)
})

t.test('time limit - a per-call hard limit overrides the task default', async (t) => {
  const result = await sleepy.applyAsync([2000], { timeLimit: 0.2 })
  await t.rejects(result.get({ timeout: 10 }), { name: 'TimeLimitExceeded', message: /hard time limit of 0\.2s/ })
})

t.test('time limit - the soft limit aborts the task signal and lets it clean up', async (t) => {
  const file = `${tempDir(t)}/soft`
  const result = await softie.delay(file)
  t.equal(await result.get({ timeout: 5 }), 'cleaned up')
  t.same(lines(file), ['cleaned up after SoftTimeLimitExceeded'])
})

t.test('worker lost - a thread killed mid-task with acksLate + rejectOnWorkerLost runs again and succeeds once', async (t) => {
  const file = `${tempDir(t)}/runs`
  const result = await crashOnce.delay(file)
  const states: string[] = []
  for await (const change of result.changes()) states.push(change.state)
  t.equal(states.at(-1), TaskState.SUCCESS)
  t.equal(states.filter((s) => s === TaskState.SUCCESS).length, 1, 'one SUCCESS on the stream')
  t.equal(await result.get({ timeout: 5 }), 'survived')
  t.same(lines(file), ['run first', 'run redelivered'], 'ran twice: killed once, then succeeded once')
})

t.test('worker lost - without rejectOnWorkerLost the task fails with WorkerLostError', async (t) => {
  const result = await crashAlways.delay()
  const error = await result.get({ timeout: 10, propagate: false })
  t.type(error, WorkerLostError)
  t.match((error as Error).message, /worker thread \d+ exited while running t\.crashAlways/)
  t.equal(await (await add.delay(1, 1)).get({ timeout: 5 }), 2)
})

t.test('worker lost - a thread out of memory (resourceLimits) dies alone; the task fails with WorkerLostError', async (t) => {
  const small = app.worker({ concurrency: 1, queues: ['oom'], maxOldGenerationSizeMb: 32, hostname: 'oom@%h' })
  await small.start()
  t.teardown(() => small.stop())
  const result = await hog.applyAsync([], { queue: 'oom' })
  const error = await result.get({ timeout: 30, propagate: false })
  t.type(error, WorkerLostError)
  t.match((error as Error).message, /out of memory|ERR_WORKER_OUT_OF_MEMORY|exited/i)
  t.equal(await (await add.applyAsync([2, 3], { queue: 'oom' })).get({ timeout: 10 }), 5, 'the node replaced the thread')
})

t.test('recycling - maxTasksPerChild replaces a thread after N tasks', async (t) => {
  const recycling = app.worker({ concurrency: 1, prefetch: 1, queues: ['recycle'], maxTasksPerChild: 3, hostname: 'recycle@%h' })
  await recycling.start()
  t.teardown(() => recycling.stop())
  const threads: number[] = []
  for (let i = 0; i < 7; i++) threads.push(await (await whoami.applyAsync([], { queue: 'recycle' })).get({ timeout: 10 }))
  t.equal(new Set(threads.slice(0, 3)).size, 1)
  t.equal(new Set(threads.slice(3, 6)).size, 1)
  t.not(threads[0], threads[3])
  t.not(threads[3], threads[6])
})

t.test('recycling - maxMemoryPerChild replaces a thread whose heap grew past the limit', async (t) => {
  const recycling = app.worker({ concurrency: 1, prefetch: 1, queues: ['memory'], maxMemoryPerChild: 1024, hostname: 'memory@%h' })
  await recycling.start()
  t.teardown(() => recycling.stop())
  const first = await (await whoami.applyAsync([], { queue: 'memory' })).get({ timeout: 10 })
  const second = await (await whoami.applyAsync([], { queue: 'memory' })).get({ timeout: 10 })
  t.not(first, second, 'a thread using more than 1 MiB of heap is recycled after its task')
})
