/**
 * Outside audit B (a Celery user), defects 6 and 4, on memory://, the embedded broker `npm
 * start` and the README use: a task that sent a task sent it nowhere (each worker thread
 * imported the app and made a broker and store of its own, so the child stayed PENDING for
 * ever and a get() inside a task timed out), and a task sent from a task had no parent and a
 * root of its own. The NATS half is send-from-task-nats.test.ts.
 */
import t from 'tap'
import { decodeHeaders } from '../../src/protocol/envelope.js'
import type { Consumer, Delivery } from '../../src/transport/transport.js'
import { app, spawnChain, spawnInHook, spawnParked, spawner, spawnAndWait, spawnChord, spawnLineage, spawnTwoDeep } from '../fixtures/send-from-task-app.js'

const node = app.worker({ concurrency: 2, hostname: 'send-from-task@%h' })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
})

t.test('send from task - a task sent by a task runs, and its caller reads its result', async (t) => {
  const sender = await spawner.delay(5)
  const childId = (await sender.get({ timeout: 5 })) as string
  t.equal(await app.asyncResult(childId).get({ timeout: 5 }), 6, 'the child ran on the node')
  t.equal(await app.asyncResult(childId).state(), 'SUCCESS')
})

t.test('send from task - get() inside a task waits for the task it sent', async (t) => {
  t.equal(await (await spawnAndWait.delay(41)).get({ timeout: 10 }), 42)
})

t.test('send from task - a chord sent by a task joins, and the task reads its result', async (t) => {
  // 0 + 2 + 4 + 6: the chord's counter lives in the node's store, reached from the thread.
  t.equal(await (await spawnChord.delay(4)).get({ timeout: 10 }), 12)
})

t.test('send from task - the child\'s parent is the sender and its root the sender\'s root', async (t) => {
  const sender = await spawnLineage.delay(null)
  const childId = (await sender.get({ timeout: 5 })) as string
  t.same(await app.asyncResult(childId).get({ timeout: 5 }), { id: childId, parentId: sender.id, rootId: sender.id })
  t.same((await sender.children()).map((child) => child.id), [childId], "the sender's record lists it, as Celery's children")

  const top = await spawnTwoDeep.delay()
  const middle = (await top.get({ timeout: 5 })) as string
  const bottom = (await app.asyncResult(middle).get({ timeout: 5 })) as string
  t.same(await app.asyncResult(bottom).get({ timeout: 5 }), { id: bottom, parentId: middle, rootId: top.id }, 'the root is the first task of the tree, two sends down')
})

t.test('send from task - a parent and root the caller gives are kept', async (t) => {
  const sender = await spawnLineage.delay({ parentId: 'my-parent', rootId: 'my-root' })
  const childId = (await sender.get({ timeout: 5 })) as string
  t.same(await app.asyncResult(childId).get({ timeout: 5 }), { id: childId, parentId: 'my-parent', rootId: 'my-root' })
  t.same(await sender.children(), [], 'a child with another parent is not the sender\'s')
})

t.test('send from task - a chain sent by a task: its first step\'s parent is the sender, its root the sender\'s root', async (t) => {
  const sender = await spawnChain.delay()
  const firstId = (await sender.get({ timeout: 5 })) as string
  t.same(await app.asyncResult(firstId).get({ timeout: 5 }), { id: firstId, parentId: sender.id, rootId: sender.id })
  t.same((await sender.children()).map((child) => child.id), [firstId], 'its first step is the child')
})

t.test('send from task - a message sent from a thread crosses in a buffer of its own (review: each kept an 8 KiB pool)', async (t) => {
  const childId = (await (await spawnParked.delay(1)).get({ timeout: 5 })) as string
  const transport = await app.transport()
  let consumer: Consumer | undefined
  const delivery = await new Promise<Delivery>((resolve) => {
    consumer = transport.consume('parked', resolve)
    consumer.pull(1)
  })
  await consumer!.close()
  t.equal(decodeHeaders(delivery.body).id, childId)
  t.equal(delivery.body.buffer.byteLength, delivery.body.byteLength, 'its body is the whole of its buffer')
  delivery.ack()
})

t.test('send from task - a task sent by a handler (onSuccess) is a child too (review)', async (t) => {
  const sender = await spawnInHook.delay()
  t.equal(await sender.get({ timeout: 5 }), 'done')
  const children = await sender.children()
  t.equal(children.length, 1, 'the handler\'s task is listed')
  t.equal(await children[0]!.get({ timeout: 5 }), 2)
})
