import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { jetstreamManager } from '@nats-io/jetstream'
import { configFromEnv } from '../../src/config/env.js'
import { NatsTransport } from '../../src/nats/index.js'
import { connectNats } from '../../src/transport/nats/connect.js'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { productionAuthConf, productionPermissionBlocks } from '../helpers/nats-config.js'
import { makeCertificates } from '../helpers/tls.js'

// The nats-server files docs/production.md publishes start a real 3-node JetStream cluster
// (ports, certificate paths and hosts substituted), with TLS and the role users of auth.conf.
const docs = fileURLToPath(new URL('../../docs/production/', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'celeriac-prod-'))
const certs = makeCertificates()
t.teardown(() => {
  rmSync(dir, { recursive: true, force: true })
  rmSync(certs.dir, { recursive: true, force: true })
})

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

t.test('production config - auth.conf and the blocks in docs/production.md are what natsPermissions generates', async (t) => {
  t.equal(readFileSync(join(docs, 'auth.conf'), 'utf8'), await productionAuthConf())
  t.ok(readFileSync(join(docs, '..', 'production.md'), 'utf8').includes(await productionPermissionBlocks()), 'docs/production.md shows the generated blocks')
})

t.test('production config - the password variables of auth.conf can sit in the environment of celeriac commands', async (t) => {
  // celeriac refuses unknown CELERIAC_* variables, and an operator exports the passwords of
  // nats-server in the same shell: their names must stay out of that prefix.
  const variables = [...readFileSync(join(docs, 'auth.conf'), 'utf8').matchAll(/password: \$([A-Z][A-Z0-9_]*)/g)].map((match) => match[1])
  t.same(variables, ['NATS_WORKER_PASSWORD', 'NATS_CLIENT_PASSWORD', 'NATS_BEAT_PASSWORD', 'NATS_MONITOR_PASSWORD', 'NATS_ADMIN_PASSWORD'])
  t.same(configFromEnv(Object.fromEntries(variables.map((name) => [name, 's3cret']))), {}, 'ignored by celeriac')
  t.match(readFileSync(join(docs, 'docker-compose.yml'), 'utf8'), /\.env \(NATS_WORKER_PASSWORD=\.\.\./, 'docker-compose.yml names the same variables')
})

t.test('production config - the three published node configs form a JetStream cluster with TLS and role users', async (t) => {
  const routes = [await freePort(), await freePort(), await freePort()]
  const http = [await freePort(), await freePort(), await freePort()]
  const passwords = { NATS_WORKER_PASSWORD: 'w-pw', NATS_CLIENT_PASSWORD: 'c-pw', NATS_BEAT_PASSWORD: 'b-pw', NATS_MONITOR_PASSWORD: 'm-pw', NATS_ADMIN_PASSWORD: 'a-pw' }
  // nats-server reads $VARIABLES of its config from its environment, inherited from this process.
  Object.assign(process.env, passwords)
  t.teardown(() => {
    for (const name of Object.keys(passwords)) delete process.env[name]
  })
  copyFileSync(join(docs, 'auth.conf'), join(dir, 'auth.conf'))
  const servers: NatsServer[] = []
  t.teardown(() => Promise.all(servers.map((server) => server.cleanup())))
  const config = (i: number) =>
    readFileSync(join(docs, `nats-${i}.conf`), 'utf8')
      .replace('listen: 0.0.0.0:6222', `listen: 127.0.0.1:${routes[i - 1]}`)
      .replace('http: 0.0.0.0:8222', `http: 127.0.0.1:${http[i - 1]}`)
      .replace(/nats-route:\/\/nats-(\d):6222/g, (_, n: string) => `nats-route://127.0.0.1:${routes[Number(n) - 1]}`)
      .replace('/data/jetstream', join(dir, `store-${i}`))
      .replace('/etc/nats/certs/server.pem', certs.serverCert)
      .replace('/etc/nats/certs/server-key.pem', certs.serverKey)
      .replace('/etc/nats/certs/ca.pem', certs.ca)
  for (const i of [1, 2, 3]) {
    t.notMatch(config(i), /nats-\d:6222|\/etc\/nats|\/data\//, `nats-${i}.conf: every host and path substituted`)
    // A port found free can be taken before the server binds it (tests run in parallel, and a
    // server dialing its routes uses ephemeral ports): then that server gets new ones. The
    // servers started before learn its route from it, as a cluster's gossip does.
    for (let attempt = 1; ; attempt++) {
      writeFileSync(join(dir, `nats-${i}.conf`), config(i))
      try {
        servers.push(await startNatsServer({ configFile: join(dir, `nats-${i}.conf`), jetstreamFromConfig: true }))
        break
      } catch (error) {
        if (attempt === 3 || !/address already in use/.test(String(error))) throw error
        routes[i - 1] = await freePort()
        http[i - 1] = await freePort()
      }
    }
  }
  const tls = (i: number) => `tls://127.0.0.1:${servers[i].port}`

  const admin = await connectNats(tls(0), { user: 'admin', pass: 'a-pw', tls: { caFile: certs.ca } })
  t.teardown(() => admin.close())
  const jsm = await jetstreamManager(admin, { checkAPI: false })
  // The cluster elects its JetStream leader a few seconds after the routes connect.
  let replicas: number | undefined
  for (const deadline = Date.now() + 20_000; replicas === undefined && Date.now() < deadline;) {
    try {
      const info = await jsm.streams.add({ name: 'PROBE', subjects: ['probe'], num_replicas: 3 })
      replicas = 1 + (info.cluster?.replicas?.length ?? 0)
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
  t.equal(replicas, 3, 'an R3 stream has a copy on each node')
  t.equal((await jsm.streams.info('PROBE')).cluster?.name, 'celeriac')

  const transport = new NatsTransport({ url: `${tls(1)},127.0.0.1:${servers[2].port}`, connectionOptions: { user: 'worker', pass: 'w-pw', tls: { caFile: certs.ca } } })
  await transport.connect()
  await transport.declareQueue({ name: 'celery' })
  await transport.close()
  t.pass('the worker user sets its queue up through another node')
  await t.rejects(connectNats(servers[0].url, { user: 'worker', pass: 'w-pw', timeout: 2_000 }), { name: 'TransportError' }, 'a client that does not trust the CA is refused')
})
