import { startNatsServer } from '../../src/testing/nats-server.js'
import type { Test } from 'tap'

/**
 * The canvas fixture on a real nats-server with `backend`, and a worker node of 2 threads,
 * stopped when `t` ends. The fixture reads its broker and backend from the environment when
 * first imported (as worker threads do), so call this before anything imports it.
 */
export async function canvasOnNats(t: Test, backend: string) {
  const server = await startNatsServer()
  process.env.CANVAS_BROKER_URL = server.url
  process.env.CANVAS_RESULT_BACKEND = backend
  const fx = await import('../fixtures/canvas-app.js')
  const node = fx.app.worker({ concurrency: 2 })
  t.before(() => node.start())
  t.teardown(async () => {
    await node.stop()
    await fx.app.close()
    await server.cleanup()
  })
  return { fx, node, server }
}
