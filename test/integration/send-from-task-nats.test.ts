/**
 * Outside audit B (a Celery user), defect 4, on NATS: a task sent from inside a running task
 * had no parentId and a root of its own, where Celery sets parent_id and root_id from the task
 * that sends. The memory:// half is send-from-task.test.ts.
 */
import t from 'tap'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'

type Fixture = typeof import('../fixtures/send-from-task-app.js')

t.setTimeout(60_000)

let server: NatsServer
let f: Fixture
let node: ReturnType<Fixture['app']['worker']>

t.before(async () => {
  server = await startNatsServer()
  // Read when the fixture is imported, here and by each worker thread (they copy this env).
  process.env.SEND_FROM_TASK_BROKER = server.url
  process.env.SEND_FROM_TASK_BACKEND = 'nats://'
  f = await import('../fixtures/send-from-task-app.js')
  node = f.app.worker({ concurrency: 2, hostname: 'send-from-task-nats@%h' })
  await node.start()
})
t.teardown(async () => {
  await node?.stop()
  await f?.app.close()
  await server?.cleanup()
})

t.test('send from task on NATS - the child\'s parent is the sender and its root the sender\'s root', async (t) => {
  t.equal((await f.app.backend()).kind, 'nats')
  const sender = await f.spawnLineage.delay(null)
  const childId = (await sender.get({ timeout: 10 })) as string
  t.same(await f.app.asyncResult(childId).get({ timeout: 10 }), { id: childId, parentId: sender.id, rootId: sender.id })
  t.same((await sender.children()).map((child) => child.id), [childId], "the sender's record lists it, as Celery's children")

  const top = await f.spawnTwoDeep.delay()
  const middle = (await top.get({ timeout: 10 })) as string
  const bottom = (await f.app.asyncResult(middle).get({ timeout: 10 })) as string
  t.same(await f.app.asyncResult(bottom).get({ timeout: 10 }), { id: bottom, parentId: middle, rootId: top.id }, 'the root is the first task of the tree, two sends down')
})

t.test('send from task on NATS - get() inside a task waits for the task it sent', async (t) => {
  t.equal(await (await f.spawnAndWait.delay(41)).get({ timeout: 10 }), 42)
})
