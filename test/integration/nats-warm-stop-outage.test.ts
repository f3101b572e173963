// Found by an outside operator audit: a warm stop while the broker was out of reach ended as
// soon as the running tasks did, with their results still waiting to be stored, and said
// nothing; an early-acked task's result was then lost for good. A warm stop now waits for
// those records within workerShutdownTimeout, and says so when they are still not stored.
import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { createApp, type Logger } from '../../src/index.js'
import { lines, tempDir } from '../helpers/files.js'

type Fixture = typeof import('../fixtures/nats-app.js')
type Line = { level: string; message: string }

function keeping(): Logger & { lines: Line[] } {
  const kept: Line[] = []
  const keep = (level: string) => (message: string) => void kept.push({ level, message })
  return { lines: kept, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') }
}

// Outages of several seconds, on purpose.
t.setTimeout(120_000)

let server: NatsServer
let f: Fixture
const log = keeping()
t.before(async () => {
  server = await startNatsServer()
  process.env.CELERIAC_BROKER_URL = server.url
  f = await import('../fixtures/nats-app.js')
  f.app.useLogger(log)
})
t.teardown(async () => {
  await f?.app.close()
  await server?.cleanup()
})

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Starts an early-acked task on a fresh node, freezes the server, lets the task end, and stops the node warm. */
async function stopDuringOutage(t: Test, hostname: string, shutdownTimeout: number) {
  const dir = tempDir(t)
  const node = f.app.worker({ concurrency: 1, hostname, queues: [hostname], shutdownTimeout })
  await node.start()
  const result = await f.held.applyAsync([`${dir}/ran`, `${dir}/release`], { queue: hostname })
  await until(() => lines(`${dir}/ran`).length > 0, 'the task to start')
  const frozen = await server.freeze()
  writeFileSync(`${dir}/release`, '')
  let stopped = false
  const stopping = node.stop().then(() => void (stopped = true))
  return { result, frozen, stopping, stopped: () => stopped }
}

t.test('a warm stop waits for the outcome of a task that ended during an outage: stored once the broker is back', async (t) => {
  const { result, frozen, stopping, stopped } = await stopDuringOutage(t, 'outage-1@test', 30)
  // Longer than the backend's own wait for writes at close (5 s): the node must wait itself.
  await new Promise((resolve) => setTimeout(resolve, 6_000))
  t.notOk(stopped(), 'still stopping while the outcome is not stored')
  frozen.resume()
  await stopping
  const reader = createApp({ name: 'natsfix', broker: server.url, backend: 'nats://' })
  t.teardown(() => reader.close())
  t.equal(await reader.asyncResult(result.id).get({ timeout: 20 }), 'outage-1@test', 'the result is stored')
  t.notOk(log.lines.some((line) => line.message.includes('not stored yet')), 'nothing to report')
})

t.test('a warm stop whose shutdown timeout ends before the broker answers says which outcomes were not stored', async (t) => {
  const { frozen, stopping } = await stopDuringOutage(t, 'outage-2@test', 1)
  await stopping
  frozen.resume()
  t.match(log.lines.filter((line) => line.level === 'error').map((line) => line.message), [/^stopped with 1 task outcomes not stored yet \(the result backend did not answer in time\)/])
})
