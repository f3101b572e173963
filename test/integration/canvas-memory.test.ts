import t from 'tap'
import { canvasCases } from './canvas.case.js'
import * as fx from '../fixtures/canvas-app.js'

const { app } = fx

const node = app.worker({ concurrency: 2 })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
})

canvasCases(t, fx)

t.test('map over a task its worker threads do not know: NotRegistered says to check the include list', async (t) => {
  // Registered here, in the main thread only: the threads import canvas-app.ts, which has no such task.
  const mainOnly = app.task('c.mainOnly', (text: string) => text)
  const error = await (await mainOnly.map(['a']).applyAsync()).get({ timeout: 20 }).catch((e: unknown) => e as Error)
  t.match(error, { name: 'NotRegistered', message: "task c.mainOnly is not registered in app canvasfix in this worker thread (its module was not imported: check the app's include list)" })
})
