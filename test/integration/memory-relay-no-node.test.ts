/**
 * Outside audit B (a Celery user), defect 6: an app on memory:// inside a worker thread sends
 * through the main thread's broker, which a worker node there serves. With no node on the main
 * thread, the send fails at once, naming the cause and the fix, rather than going nowhere.
 */
import t from 'tap'
import { Worker } from 'node:worker_threads'

t.test('memory relay - a send from a thread with no node on the main thread fails with the reason', async (t) => {
  const fixture = new URL('../fixtures/send-from-task-app.ts', import.meta.url).href
  const code = `
    const { parentPort } = await import('node:worker_threads')
    const { register } = await import('tsx/esm/api')
    register()
    const { add } = await import(${JSON.stringify(fixture)})
    try {
      await add.delay(1, 2)
      parentPort.postMessage({ sent: true })
    } catch (error) {
      parentPort.postMessage({ name: error.name, message: error.message })
    }`
  const worker = new Worker(code, { eval: true })
  t.teardown(() => worker.terminate())
  const answer = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  t.match(answer, { name: 'TransportError', message: /^memory:\/\/send-from-task \(the broker of an app inside a worker thread\) cannot reach the main thread's: no worker node \(app\.worker\(\)\) runs on the main thread of this process to serve it\. .*use a shared broker and backend \(nats:\/\/\)$/ })
})
