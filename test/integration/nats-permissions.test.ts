import t from 'tap'
import { createApp, PermissionError } from '../../src/index.js'
import { natsPermissionsConfig, type NatsRole } from '../../src/nats/index.js'
import { connectNats } from '../../src/transport/nats/connect.js'
import { INSPECT_SUBJECT } from '../../src/client/control.js'
import { msgpackCodec } from '../../src/serialization/codec.js'
import { configuredServer } from '../helpers/nats-config.js'
import { app as workerApp, add } from '../fixtures/secure-app.js'

// Each role runs against a server that grants it exactly natsPermissions(role) and nothing
// else: what the role needs works, and what it must not do is refused by the server and
// reported as a PermissionError naming the subject, at once (no hang, no empty answer).
const users: Array<[string, NatsRole, { inboxPrefix?: string; backend?: 'rpc' }]> = [
  ['worker', 'worker', {}],
  ['alice', 'client', { inboxPrefix: '_INBOX.alice' }],
  ['rpcbob', 'client', { inboxPrefix: '_INBOX.rpcbob', backend: 'rpc' }],
  ['beat', 'beat', {}],
  ['monitor', 'monitor', { inboxPrefix: '_INBOX.monitor' }],
]
const config = `authorization { users: [\n${users.map(([user, role, options]) => `{ user: ${user}, password: pw, ${natsPermissionsConfig(role, options)} }`).join('\n')}\n] }\n`
const server = await configuredServer(t, config)
const as = (user: string) => server.url.replace('nats://', `nats://${user}:pw@`)
const inbox = (user: string) => ({ natsInboxPrefix: `_INBOX.${user}` })

// The worker comes first: it creates the streams and buckets the other roles may only read.
workerApp.conf.update({ broker: as('worker'), backend: 'nats://', workerSendTaskEvents: true })
const node = workerApp.worker({ concurrency: 1, hostname: 'perm@test' })
await node.start()
t.teardown(async () => {
  await node.stop()
  await workerApp.close()
})

const client = createApp({ name: 'alice', broker: as('alice'), backend: 'nats://', config: inbox('alice') })
t.teardown(() => client.close())

const refusal = (subject: string) => ({
  constructor: PermissionError,
  name: 'PermissionError',
  code: 'ERR_PERMISSION',
  subject,
  message: `the NATS server refused to let this user publish to "${subject}" (permissions violation): grant it to the user, or use a user whose role allows this (see natsPermissions in celeriac/nats and docs/production.md)`,
})

t.test('permissions - client: sends tasks and reads their results, delayed ones too', async (t) => {
  t.equal(await (await client.sendTask('s.add', [2, 3])).get({ timeout: 10 }), 5)
  t.equal(await (await client.sendTask('s.add', [2, 4], { countdown: 0.2 })).get({ timeout: 10 }), 6)
})

t.test('permissions - client: control, purge and writing results are refused by the server, clearly', async (t) => {
  const started = Date.now()
  await t.rejects(client.control.shutdown({ timeout: 5 }), refusal('celeriac.bus.celeriac.control.broadcast'), 'control shutdown')
  await t.rejects(client.control.ping({ timeout: 5 }), refusal('celeriac.bus.celeriac.control.inspect'), 'even inspect')
  await t.rejects((await client.transport()).purge('celery'), refusal('$JS.API.STREAM.PURGE.CELERIAC_Q_celery'), 'purge')
  const forged = (await client.backend()).store({ taskId: 'f0f0f0f0-0000-4000-8000-000000000000', state: 'SUCCESS' })
  await t.rejects(forged, { name: 'BackendError', message: /refused to let this user publish to "\$KV\.celeriac-results\.f0f0f0f0-0000-4000-8000-000000000000"/ }, 'a forged result')
  t.ok(Date.now() - started < 4_000, 'each refusal arrives at once, not after a timeout')
  t.equal(await (await client.sendTask('s.add', [1, 2])).get({ timeout: 10 }), 3, 'the worker is still up')
})

t.test('permissions - client: revoke and the event stream are refused, clearly', async (t) => {
  const sent = await client.sendTask('s.add', [5, 5])
  await sent.get({ timeout: 10 })
  await t.rejects(sent.revoke(), refusal('$JS.API.STREAM.INFO.KV_celeriac-revoked'), 'revoke')
  const stream = client.events.subscribe('*')
  const subscribeRefusal = { name: 'PermissionError', code: 'ERR_PERMISSION', operation: 'subscribe', subject: 'celeriac.bus.celeriac.events.>' }
  await t.rejects(stream.ready, subscribeRefusal, 'events: ready rejects')
  await t.rejects(stream.next(), subscribeRefusal, 'events: the stream ends with the refusal')
})

t.test('permissions - client: cannot listen to another user\'s inbox or to every inbox', async (t) => {
  const nc = await connectNats(as('alice'), { inboxPrefix: '_INBOX.alice' })
  t.teardown(() => nc.close())
  for (const subject of ['_INBOX.rpcbob.>', '_INBOX.>']) {
    const refused = new Promise<Error | null>((resolve) => nc.subscribe(subject, { callback: (error) => resolve(error) }))
    t.match(await refused, { message: `Permissions Violation for Subscription to "${subject}"` }, subject)
  }
})

t.test('permissions - client without its inbox prefix: the refusal says to set it, not to widen the grants (docs audit)', async (t) => {
  const lost = createApp({ name: 'alice', broker: as('alice'), backend: 'nats://' })
  t.teardown(() => lost.close())
  const error = await lost.sendTask('s.add', [1, 1]).then((sent) => sent.get({ timeout: 10 })).catch((e: unknown) => e)
  t.match(error, { message: /refused to let this user subscribe on "_INBOX\.[^"]+" \(permissions violation\): replies come to this connection's inbox prefix: set natsInboxPrefix \(CELERIAC_NATS_INBOX_PREFIX, or \?inbox_prefix= in the URL\)/ })
})

t.test('permissions - client on rpc://: results come back', async (t) => {
  const rpc = createApp({ name: 'rpcbob', broker: as('rpcbob'), backend: 'rpc://', config: inbox('rpcbob') })
  t.teardown(() => rpc.close())
  t.equal(await (await rpc.sendTask('s.add', [3, 3])).get({ timeout: 10 }), 6)
})

t.test('permissions - monitor: events, inspect, results and dead letters; acting is refused', async (t) => {
  const monitor = createApp({ name: 'monitor', broker: as('monitor'), backend: 'nats://', config: inbox('monitor') })
  t.teardown(() => monitor.close())
  const events = monitor.events.subscribe('worker-heartbeat')[Symbol.asyncIterator]()
  t.equal((await events.next()).value?.hostname, 'perm@test', 'a worker heartbeat')
  await events.return?.()
  t.same(Object.keys(await monitor.control.inspect({ timeout: 2 }).stats()), ['perm@test'])
  const sent = await add.delay(1, 1)
  await sent.get({ timeout: 10 })
  t.match(await (await monitor.backend()).get(sent.id), { state: 'SUCCESS' }, 'reads a result')
  t.same(await monitor.deadLetters('celery'), [])
  await t.rejects(monitor.control.shutdown({ timeout: 5 }), refusal('celeriac.bus.celeriac.control.broadcast'))
  // An acting command on the inspect subject: refused by the node itself.
  const replies = await (await monitor.transport()).request(INSPECT_SUBJECT, msgpackCodec.encode({ command: 'shutdown', arguments: {} }), { timeoutMs: 2_000, max: 1 })
  t.match(replies.map((reply) => msgpackCodec.decode(reply)), [{ hostname: 'perm@test', error: 'shutdown is not an inspect command: send it on celeriac.control.broadcast' }])
})

t.test('permissions - beat: sends its periodic tasks', async (t) => {
  const beatApp = createApp({ name: 'beat', broker: as('beat'), backend: 'nats://', config: { beatSchedule: { tick: { task: 's.add', args: [1, 2], schedule: 0.2 } } } })
  const before = node.processed
  const beat = beatApp.beat()
  await beat.start()
  while (node.processed < before + 2) await new Promise((resolve) => setTimeout(resolve, 50))
  await beat.stop()
  await beatApp.close()
  t.pass('two ticks ran')
})
