// Found by a first-hour audit: a client script beside a worker in another process, with
// CELERIAC_BROKER_URL exported, kept the default memory:// broker (createApp does not read the
// environment) and its get() waited for ever without a word. No worker runs in this test's
// process, which is the case the hint is for.
import t from 'tap'
import { createApp, type Logger } from '../../src/index.js'

function keeping(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  const none = () => {}
  return { warnings, debug: none, info: none, error: none, warn: (message: string) => void warnings.push(message) }
}

t.test('memory:// with no worker in the process: get() says nothing runs the task here, and names the unread variable', async (t) => {
  process.env.CELERIAC_BROKER_URL = 'nats://127.0.0.1:4222'
  t.teardown(() => void delete process.env.CELERIAC_BROKER_URL)
  const logger = keeping()
  const app = createApp({ name: 'stranded', logger })
  t.teardown(() => app.close())
  const add = app.task('s.add', (x: number, y: number) => x + y)
  const sent = await add.delay(1, 2)
  const error = await sent.get({ timeout: 0.2 }).catch((e: unknown) => e as Error)
  t.match(error, { name: 'TimeoutError', message: /not ready after 0\.2s: this app's broker is memory:\/\/, in this process, and no worker runs here: nothing runs its tasks until app\.worker\(\) starts one in this process\./ })
  t.match(error, { message: /CELERIAC_BROKER_URL is set, but createApp\(\) does not read the environment: call app\.configFromEnv\(\)/ })
  await sent.get({ timeout: 0.05 }).catch(() => undefined)
  t.equal(logger.warnings.filter((w) => w.startsWith("this app's broker is memory://")).length, 1, 'logged once')
})
