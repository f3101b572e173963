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
