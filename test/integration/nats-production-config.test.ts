import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { jetstreamManager } from '@nats-io/jetstream'
import { configFromEnv } from '../../src/config/env.js'
import { NatsTransport, natsPermissionsConfig, type NatsRole } from '../../src/nats/index.js'
import { connectNats } from '../../src/transport/nats/connect.js'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
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

/**
 * The inbox prefix of each role's user in auth.conf: the user may subscribe under it only, so no
 * role reads another's replies or pushed results. docs/production.md sets the same in each
 * role's environment (CELERIAC_NATS_INBOX_PREFIX); without it a process fails on its first request.
 */
const INBOXES = { worker: '_INBOX.worker', client: '_INBOX.client', beat: '_INBOX.beat', monitor: '_INBOX.monitor' } as const satisfies Record<NatsRole, string>

/** The text of docs/production/auth.conf: one user per role, its generated permissions, passwords from the environment. */
function productionAuthConf(): string {
  const indent = (text: string) => text.split('\n').map((line) => `      ${line}`).join('\n')
  const user = (role: NatsRole) =>
    `    {\n      user: ${role}\n      password: $NATS_${role.toUpperCase()}_PASSWORD\n${indent(natsPermissionsConfig(role, { inboxPrefix: INBOXES[role] }))}\n    }`
  return [
    '# Generated from natsPermissions() in celeriac/nats, for the default namespace and the queue',
    '# "celery" (test/integration/nats-production-config.test.ts checks this file matches).',
    '# For other queues, generate your own: natsPermissionsConfig(role, { queues: [...] }).',
    '# Each user may subscribe only under its own inbox prefix: set it in the environment of',
    '# every process that connects as that user, e.g. CELERIAC_NATS_INBOX_PREFIX=_INBOX.client.',
    '# Passwords come from the environment of nats-server; prefer bcrypt hashes (nats server passwd).',
    'authorization {',
    '  users: [',
    ...(['worker', 'client', 'beat', 'monitor'] as const).map(user),
    '    # Creates streams ahead of the workers, purges, deletes: for operators, not for apps.',
    '    { user: admin, password: $NATS_ADMIN_PASSWORD }',
    '  ]',
    '}',
    '',
  ].join('\n')
}

/** The permission blocks docs/production.md shows, one fenced block per role. */
function productionPermissionBlocks(): string {
  return (['client', 'worker', 'beat', 'monitor'] as const)
    .map((role) => `\`${role}\` (inbox prefix \`${INBOXES[role]}\`):\n\n\`\`\`\n${natsPermissionsConfig(role, { inboxPrefix: INBOXES[role] })}\n\`\`\``)
    .join('\n\n')
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

t.test('production config - auth.conf and the blocks in docs/production.md are what natsPermissions generates', async (t) => {
  t.equal(readFileSync(join(docs, 'auth.conf'), 'utf8'), productionAuthConf())
  t.ok(readFileSync(join(docs, '..', 'production.md'), 'utf8').includes(productionPermissionBlocks()), 'docs/production.md shows the generated blocks')
})

t.test('production config - docs/production.md sets each role\'s inbox prefix where it shows the role\'s environment (docs audit)', async (t) => {
  // A process without the prefix its user may subscribe to fails on its first request.
  const page = readFileSync(join(docs, '..', 'production.md'), 'utf8')
  for (const [role, prefix] of Object.entries(INBOXES)) {
    t.match(page, new RegExp(`CELERIAC_NATS_USER=${role} [^\\n]*CELERIAC_NATS_INBOX_PREFIX=${prefix.replace('.', '\\.')}\\b`), role)
  }
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

  const transport = new NatsTransport({ url: `${tls(1)},127.0.0.1:${servers[2].port}`, connectionOptions: { user: 'worker', pass: 'w-pw', tls: { caFile: certs.ca }, inboxPrefix: INBOXES.worker } })
  await transport.connect()
  await transport.declareQueue({ name: 'celery' })
  await transport.close()
  t.pass('the worker user sets its queue up through another node')
  for (const [user, pass] of [['worker', 'w-pw'], ['beat', 'b-pw']] as const) {
    const nc = await connectNats(tls(0), { user, pass, tls: { caFile: certs.ca }, inboxPrefix: INBOXES[user] })
    t.teardown(() => nc.close())
    for (const subject of ['_INBOX.client.>', '_INBOX.>']) {
      const refused = new Promise<Error | null>((resolve) => nc.subscribe(subject, { callback: (error) => resolve(error) }))
      t.match(await refused, { message: `Permissions Violation for Subscription to "${subject}"` }, `${user} cannot read the replies of clients: ${subject}`)
    }
  }
  await t.rejects(connectNats(servers[0].url, { user: 'worker', pass: 'w-pw', timeout: 2_000 }), { name: 'TransportError' }, 'a client that does not trust the CA is refused')
})
