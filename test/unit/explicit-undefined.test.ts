import t from 'tap'
import { createApp } from '../../src/index.js'
import { CALL_OPTION_KEYS } from '../../src/canvas/call-options.js'
import { TASK_OPTION_KEYS } from '../../src/task/options.js'
import { WORKER_OPTION_KEYS } from '../../src/worker/worker-options.js'
import { GET_OPTION_KEYS } from '../../src/result/result-like.js'
import { add, app } from '../fixtures/app.js'

// TS consumer audit: under exactOptionalPropertyTypes, `createApp({ broker: process.env.X })`
// and every `{ timeout: opts.timeout }` pass-through failed to compile: the option types did
// not take an explicit undefined. They now do (`| undefined`), and this checks that the run
// time takes every option given as undefined as not given, as the types now promise.
const allUndefined = (keys: readonly string[]) => Object.fromEntries(keys.map((key) => [key, undefined]))

t.test('every option given as undefined is taken as not given', async (t) => {
  const other = createApp({ name: undefined, broker: undefined, backend: undefined, include: undefined, config: undefined, main: undefined, transport: undefined, resultBackend: undefined, clock: undefined, logger: undefined })
  t.equal(other.conf.broker, 'memory://', 'createApp: the defaults')
  await other.close()

  const task = app.task('t.undefinedOptions', (x: number) => x * 2, allUndefined(TASK_OPTION_KEYS))
  t.equal(task.name, 't.undefinedOptions')
  const node = app.worker({ ...allUndefined(WORKER_OPTION_KEYS), concurrency: 1 })
  t.teardown(() => node.stop())
  await node.start()
  const sent = await add.applyAsync([20, 22], allUndefined(CALL_OPTION_KEYS))
  t.equal(await sent.get(allUndefined(GET_OPTION_KEYS)), 42)
  // Registered here, not in the module the threads import: run here, through a worker's runner.
  t.equal(await task.call(21), 42)
})
