import t from 'tap'
import { app } from '../fixtures/hostile-app.js'
import { hostileCases } from './hostile.case.js'

// What would end a worker process: recorded, so that the test says which message did it.
const escaped: unknown[] = []
const record = (error: unknown) => void escaped.push(error)
process.on('unhandledRejection', record)
process.on('uncaughtException', record)

const node = app.worker({ concurrency: 2, hostname: 'hostile@%h' })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
  process.off('unhandledRejection', record)
  process.off('uncaughtException', record)
})

hostileCases(t, {
  app,
  queue: 'celery',
  alive: () => {
    if (escaped.length > 0) throw new Error(`something escaped the worker: ${escaped.map(String).join('; ')}`)
    if (node.state !== 'running') throw new Error(`the worker is ${node.state}`)
  },
})
