import t from 'tap'
import { fileURLToPath } from 'node:url'
import { request } from 'node:http'
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../src/testing/index.js'
import { celeriac, startCeleriac } from '../helpers/cli.js'

// `celeriac dashboard` as a user starts it: bad options are usage errors (exit 2), and on NATS
// it serves the page and API on 127.0.0.1 with the auth it was given, until TERM.
const fixture = fileURLToPath(new URL('../fixtures/dashboard-app.ts', import.meta.url))

t.test('bad options and an in-process broker are usage errors', async (t) => {
  const [port, auth, open, memory, help] = await Promise.all([
    celeriac(['dashboard', '--port', 'http']),
    celeriac(['dashboard', '--basic-auth', 'nopassword']),
    celeriac(['dashboard', '--open', '/api/tasks']),
    celeriac(['dashboard', '-A', fixture]),
    celeriac(['dashboard', '--help']),
  ])
  t.equal(port.code, 2)
  t.match(port.stderr, 'celeriac: --port must be an integer from 0 to 65535, got "http"')
  t.equal(auth.code, 2)
  t.match(auth.stderr, '--basic-auth must be user:password')
  t.match(open.stderr, '--open takes /healthcheck and /metrics, got "/api/tasks"')
  t.equal(memory.code, 2)
  t.match(memory.stderr, 'dashboard: the broker is memory://dashfix, which lives inside this one process')
  t.match(help.stdout, '--read-only')
})

t.test('serves on NATS with a token, healthcheck open, until TERM', { skip: natsServerAvailable() ? false : 'needs nats-server' }, async (t) => {
  const nats: NatsServer = await startNatsServer()
  t.teardown(() => nats.stop())
  const cli = startCeleriac(['dashboard', '-A', fixture, '--port', '0', '--token', 'T0K', '--open', '/healthcheck', '--read-only', '--enable-events'], { CELERIAC_BROKER_URL: nats.url, CELERIAC_RESULT_BACKEND: 'nats://' })
  t.teardown(() => cli.stop())
  await cli.waitFor(/celeriac dashboard: http:\/\/127\.0\.0\.1:\d+\/ \(auth: token, read-only/)
  const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(cli.output())![0]
  t.equal(await (await fetch(url + 'healthcheck')).text(), 'OK')
  t.equal((await fetch(url + 'api/workers')).status, 401)
  const tasks = await fetch(url + 'api/tasks', { headers: { authorization: 'Bearer T0K' } })
  t.same(await tasks.json(), { total: 0, offset: 0, limit: 50, tasks: [] })
  t.equal((await fetch(url + 'api/task/revoke/x', { method: 'POST', headers: { authorization: 'Bearer T0K' } })).status, 403)
  // On 127.0.0.1 it answers only to loopback names: a rebound DNS name is refused.
  const rebound = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
    const port = Number(new URL(url).port)
    request({ host: '127.0.0.1', port, path: '/healthcheck', headers: { host: `evil.example:${port}` } }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode, body }))
    }).on('error', reject).end()
  })
  t.same(rebound, { status: 403, body: '{"error":"host \\"evil.example\\" is not allowed (allowedHosts: 127.0.0.1, localhost, [::1])"}' })
  t.equal(await cli.stop(), 0, 'TERM stops it cleanly')
})
