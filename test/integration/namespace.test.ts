// Issue 13 (and 18): config.namespace keeps two apps on one NATS account apart: queues,
// results, revokes and control. The default namespace keeps the names celeriac always used.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { ConfigError, createApp, type App } from '../../src/index.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { lines, tempDir } from '../helpers/files.js'

const fixture = fileURLToPath(new URL('../fixtures/durability-app.ts', import.meta.url))

let server: NatsServer
const workers: WorkerProcess[] = []
const apps: App[] = []

t.before(async () => {
  server = await startNatsServer()
})
t.teardown(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')))
  await Promise.all(apps.map((a) => a.close()))
  await server?.cleanup()
})

function client(namespace: string): App {
  const app = createApp({ name: `ns-${namespace}`, broker: server.url, backend: 'nats://', config: { namespace } })
  apps.push(app)
  return app
}

async function worker(namespace: string): Promise<WorkerProcess> {
  const w = await startWorkerProcess({ app: fixture, hostname: `${namespace}@%h`, args: ['-c', '1', '-Q', 'shared'], env: { CELERIAC_BROKER_URL: server.url, CELERIAC_NAMESPACE: namespace } })
  workers.push(w)
  return w
}

t.test('two apps with their own namespace on one server see nothing of each other', async (t) => {
  const [wa, wb] = await Promise.all([worker('alpha'), worker('beta')])
  const a = client('alpha')
  const b = client('beta')
  const dir = tempDir(t)

  // Queues: the same queue name, each app's tasks reach only its own worker.
  const ra = await a.sendTask('d.work', [1, 0, `${dir}/alpha`], { queue: 'shared' })
  const rb = await b.sendTask('d.work', [2, 0, `${dir}/beta`], { queue: 'shared' })
  t.equal(await ra.get({ timeout: 20 }), 1)
  t.equal(await rb.get({ timeout: 20 }), 2)
  t.ok(lines(`${dir}/alpha`)[0].startsWith(`1 ${wa.child.pid} `), "alpha's task ran on alpha's worker")
  t.ok(lines(`${dir}/beta`)[0].startsWith(`2 ${wb.child.pid} `), "beta's task ran on beta's worker")

  // Results: one app cannot read the other's.
  t.equal(await (await b.backend()).get(ra.id), undefined, "beta cannot read alpha's result")
  t.equal((await (await a.backend()).get(ra.id))?.state, 'SUCCESS')

  // Control: a broadcast reaches only the app's own workers.
  t.same(Object.keys(await a.control.inspect({ timeout: 1 }).ping()).map((n) => n.split('@')[0]), ['alpha'], "alpha's ping reaches alpha's worker only")
  t.same(Object.keys(await b.control.inspect({ timeout: 1 }).ping()).map((n) => n.split('@')[0]), ['beta'], "beta's ping reaches beta's worker only")

  // Revokes: inspect revoked lists only the app's own.
  await a.control.revoke('alpha-revoked-task')
  const revokedA = Object.values(await a.control.inspect({ timeout: 1 }).revoked())
  const revokedB = Object.values(await b.control.inspect({ timeout: 1 }).revoked())
  t.ok(JSON.stringify(revokedA).includes('alpha-revoked-task'), "alpha's worker lists alpha's revoke")
  t.notOk(JSON.stringify(revokedB).includes('alpha-revoked-task'), "beta's worker does not list alpha's revoke")

  // Names: every stream and bucket carries the namespace; the default ones were never made.
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  const names: string[] = []
  for await (const name of jsm.streams.names()) names.push(name)
  t.ok(names.includes('ALPHA_Q_shared') && names.includes('BETA_Q_shared'), 'one queue stream per namespace')
  t.ok(names.includes('KV_alpha-results') && names.includes('KV_beta-results'), 'one results bucket per namespace')
  t.ok(names.includes('KV_alpha-revoked'), "revokes live in the revoking app's namespace")
  t.same(names.filter((n) => /^(CELERIAC_|KV_celeriac-)/.test(n)), [], 'nothing in the default namespace')
})

t.test('the default namespace keeps the names celeriac always used', async (t) => {
  const app = createApp({ name: 'ns-default', broker: server.url, backend: 'nats://' })
  apps.push(app)
  t.equal(app.conf.namespace, 'celeriac')
  const transport = await app.transport()
  await transport.declareQueue({ name: 'plain' })
  await app.backend()
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  for (const stream of ['CELERIAC_Q_plain', 'CELERIAC_DLQ', 'KV_celeriac-topology', 'KV_celeriac-results']) {
    t.equal((await jsm.streams.info(stream)).config.name, stream, `${stream} as before`)
  }
})

t.test('a namespace that is not a NATS name token is a ConfigError naming the key', async (t) => {
  t.throws(() => createApp({ name: 'ns-bad', config: { namespace: 'a.b' } }), new ConfigError('config.namespace must be letters, digits, "_" or "-", got "a.b"'))
  t.throws(() => createApp({ name: 'ns-bad-r', config: { natsReplicas: 7 } }), new ConfigError('config.natsReplicas must be an integer from 1 to 5, got 7'))
})
