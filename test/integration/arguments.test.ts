import t from 'tap'
import { createApp, InvalidArgumentError, TaskState } from '../../src/index.js'
import { app, add, loose } from '../fixtures/app.js'

const node = app.worker({ concurrency: 2, hostname: 'arguments@%h' })
// A client that knows the tasks by name only, as Celery's send_task: its publisher cannot check arity.
const client = createApp({ name: 'arguments-client', broker: 'memory://fixture', backend: 'memory://fixture' })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await client.close()
  await app.close()
})

t.test('worker - a message with too few arguments ends in FAILURE with InvalidArgumentError, and the node keeps running', async (t) => {
  const result = await client.sendTask('t.add', [1])
  await t.rejects(result.get({ timeout: 5 }), new InvalidArgumentError('t.add takes 2 arguments, got 1'))
  t.equal(await result.state(), TaskState.FAILURE)
  const error = await client.asyncResult(result.id).get({ timeout: 5, propagate: false })
  t.type(error, InvalidArgumentError)
  t.equal(await (await add.delay(2, 3)).get({ timeout: 5 }), 5, 'the node keeps serving')
})

t.test('worker - too many arguments; a keyword that names no parameter is refused (issue 18: kwargs bind by name)', async (t) => {
  const tooMany = await client.sendTask('t.add', [1, 2, 3])
  await t.rejects(tooMany.get({ timeout: 5 }), new InvalidArgumentError('t.add takes 2 arguments, got 3'))
  const withKwargs = await client.sendTask('t.add', [1, 2], { kwargs: { z: 3 } })
  await t.rejects(withKwargs.get({ timeout: 5 }), new InvalidArgumentError("t.add got an unexpected keyword argument 'z'"))
})

t.test('worker - a task registered with typing: false runs with what it is given', async (t) => {
  t.same(await (await client.sendTask('t.loose', [1])).get({ timeout: 5 }), [1, 'b missing'])
  t.same(await (await loose.delay(...([1] as unknown as [unknown, unknown]))).get({ timeout: 5 }), [1, 'b missing'], 'nor does the caller check it')
})
