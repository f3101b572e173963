import { fileURLToPath } from 'node:url'
import t from 'tap'
import { configuredServer } from '../helpers/nats-config.js'
import { startWorkerProcess } from '../helpers/worker-process.js'
import { celeriac } from '../helpers/cli.js'

// A worker and the CLI given secrets the ways an operator would (a password in the URL, a token
// and a password in the environment): no output of theirs prints one, `inspect conf` shows them
// censored.
const app = fileURLToPath(new URL('../fixtures/secure-app.ts', import.meta.url))
const PASSWORD = 'pa55-Secret-1'
const TOKEN = 'tok-Secret-2'

t.test('censor - secrets never appear in a worker log, a refusal, or inspect conf', async (t) => {
  const server = await configuredServer(t, `authorization { users: [ { user: "alice", password: "${PASSWORD}" } ] }`)
  const host = server.url.replace('nats://', '')
  const env = { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: 'nats://', CELERIAC_NATS_USER: 'alice', CELERIAC_NATS_PASSWORD: PASSWORD, CELERIAC_NATS_TOKEN: TOKEN }
  const worker = await startWorkerProcess({ app, hostname: 'censor@test', args: ['-c', '1', '-l', 'debug'], env })
  t.teardown(() => worker.stop())
  const conf = await celeriac(['inspect', 'conf', '-A', app, '-b', `nats://alice:${PASSWORD}@${host}`, '-j'])
  t.equal(conf.code, 0, conf.stderr)
  const shown = (JSON.parse(conf.stdout) as Record<string, Record<string, unknown>>)['censor@test']
  t.match(shown, { broker: server.url, natsUser: 'alice', natsPassword: '**', natsToken: '**' }, 'the worker\'s config, censored')
  const refused = await celeriac(['inspect', 'ping', '-A', app, '-b', `nats://alice:wrong-${PASSWORD}@${host}`])
  t.not(refused.code, 0)
  t.match(refused.stderr, `nats://alice:**@${host}`, 'a refused connection names the server, censored')
  for (const [what, text] of [['worker', worker.output()], ['inspect conf', conf.stdout + conf.stderr], ['refused ping', refused.stdout + refused.stderr]]) {
    t.notOk(text.includes(PASSWORD) || text.includes(TOKEN), `${what} prints no secret`)
  }
})
