/**
 * Outside audit B (a Celery user), defect 6, and its review: an app on memory:// inside a
 * worker node's thread sends through the main thread's broker (relay-client.ts). A thread of
 * the user's own (a test runner's worker, say) is no node's: its memory:// app keeps a broker
 * and store of its own, as it did, and a task sent there waits there.
 */
import t from 'tap'
import { Worker } from 'node:worker_threads'

t.test('memory relay - a thread of the user\'s own keeps a memory:// broker of its own', async (t) => {
  const fixture = new URL('../fixtures/send-from-task-app.ts', import.meta.url).href
  const code = `
    const { parentPort } = await import('node:worker_threads')
    const { register } = await import('tsx/esm/api')
    register()
    const { add, app } = await import(${JSON.stringify(fixture)})
    try {
      const sent = await add.delay(1, 2)
      parentPort.postMessage({ sent: true, state: await sent.state(), waiting: await (await app.transport()).depth('celery') })
      await app.close()
    } catch (error) {
      parentPort.postMessage({ name: error.name, message: error.message })
    }`
  const worker = new Worker(code, { eval: true })
  t.teardown(() => worker.terminate())
  const answer = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  t.same(answer, { sent: true, state: 'PENDING', waiting: 1 }, 'sent to its own broker, where it waits')
})
