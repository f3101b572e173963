import t from 'tap'
import { writeFileSync } from 'node:fs'
import { TaskState, TimeLimitExceeded } from '../../src/index.js'
import { app, clock, hang, spin } from '../fixtures/clock-app.js'
import { tempDir } from '../helpers/files.js'
import type { AsyncResult } from '../../src/index.js'

// The node's clock is simulated: only clock.advance() moves its time, whatever real time passes.
const node = app.worker({ concurrency: 1, prefetch: 1, hostname: 'virtual-clock@%h' })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop({ cold: true })
  await app.close()
})

/** Resolves once the task's STARTED is stored: the thread has begun to run it. */
async function started(result: AsyncResult): Promise<void> {
  for await (const change of result.changes()) if (change.state === TaskState.STARTED) return
}

t.test('virtual time limit - a blocked task is not terminated before the clock passes its limit', async (t) => {
  const release = `${tempDir(t)}/release`
  const result = await hang.delay(release)
  await started(result)
  clock.advance(9_999)
  // Had the watchdog fired, the thread would be terminated now, before it can see the file.
  writeFileSync(release, '')
  t.equal(await result.get({ timeout: 10 }), 'released', 'it ran to its end: 9.999s of its 10s limit passed')
})

t.test('virtual time limit - a spinning task is terminated with TimeLimitExceeded once the clock passes its limit', async (t) => {
  const result = await spin.delay()
  await started(result)
  clock.advance(9_999)
  t.equal(await result.state(), TaskState.STARTED, 'still running')
  clock.advance(1)
  const error = await result.get({ timeout: 10, propagate: false })
  t.type(error, TimeLimitExceeded)
  t.match((error as Error).message, /^c\.spin\[.*\] exceeded its hard time limit of 10s and its thread was terminated$/)
  t.equal(await result.state(), TaskState.FAILURE)
})
