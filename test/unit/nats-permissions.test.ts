import t from 'tap'
import { natsPermissions, natsPermissionsConfig } from '../../src/nats/index.js'

t.test('nats permissions - names follow the namespace, queues, bucket and inbox prefix', async (t) => {
  const client = natsPermissions('client', { namespace: 'shop', queues: ['mail', 'a.b'], resultBucket: 'shop-results', inboxPrefix: '_INBOX.shop' })
  t.same(client.subscribe.allow, ['_INBOX.shop.>', '_kvr.shop-results.*'])
  t.ok(client.publish.allow.includes('shop.q.mail'), 'its queues')
  t.ok(client.publish.allow.includes('$JS.API.STREAM.INFO.SHOP_Q_mail'), 'their streams, by name')
  t.ok(client.publish.allow.includes('shop.q.=612e62'), 'a queue name that is not one token, as the transport spells it')
  t.notOk(client.publish.allow.some((subject) => subject.startsWith('celeriac.')), 'nothing of the default namespace')
  t.notOk(client.publish.allow.some((subject) => /control|PURGE|^\$KV\.|MSG\.GET/.test(subject)), 'no control, purge, KV writes or reads by sequence')
})

t.test('nats permissions - rpc:// clients watch rpc subjects instead of the bucket', async (t) => {
  const rpc = natsPermissions('client', { backend: 'rpc' })
  t.same(rpc.subscribe.allow, ['_INBOX.>', 'celeriac.rpc.*', 'celeriac.rpc-reply.*'])
  t.notOk(rpc.publish.allow.some((subject) => subject.includes('celeriac-results')))
})

t.test('nats permissions - the monitor may inspect, not act; the config text holds the same subjects', async (t) => {
  const monitor = natsPermissions('monitor')
  t.ok(monitor.publish.allow.includes('celeriac.bus.celeriac.control.inspect'))
  t.notOk(monitor.publish.allow.includes('celeriac.bus.celeriac.control.broadcast'))
  const text = natsPermissionsConfig('monitor')
  for (const subject of [...monitor.publish.allow, ...monitor.subscribe.allow]) t.ok(text.includes(JSON.stringify(subject)), subject)
})

t.test('nats permissions - the roles that read queue figures may get messages of their queue streams, and of no bucket', async (t) => {
  const msgGets = (role: 'client' | 'worker' | 'beat' | 'monitor') => natsPermissions(role, { namespace: 'shop', queues: ['mail', 'sms'] }).publish.allow.filter((subject) => subject.includes('.STREAM.MSG.GET.'))
  const queueGets = ['$JS.API.STREAM.MSG.GET.SHOP_Q_mail', '$JS.API.STREAM.MSG.GET.SHOP_Q_sms']
  t.same(msgGets('monitor'), queueGets, 'monitor: its queues only (results stay read by key)')
  t.same(msgGets('worker').filter((subject) => subject.includes('_Q_')), queueGets, 'worker: its queues, for its metrics')
  t.same(msgGets('client'), [], 'client: none')
  t.same(msgGets('beat'), [], 'beat: none')
  const monitor = natsPermissions('monitor', { namespace: 'shop' }).publish.allow
  for (const subject of ['$JS.API.STREAM.NAMES', '$JS.API.STREAM.INFO.KV_shop-beat', '$JS.API.DIRECT.GET.KV_shop-beat.$KV.shop-beat.>']) t.ok(monitor.includes(subject), `monitor: ${subject} (the dashboard's queue list and Beat page)`)
  t.notOk(monitor.some((subject) => /CREATE\.KV_shop-beat|UPDATE|PURGE|DELETE\.SHOP_Q|^\$KV\./.test(subject)), 'monitor: no write to the beat bucket or the queues')
})

t.test('nats permissions - a typo in the role or an option is an error, not fewer grants (docs audit)', async (t) => {
  t.throws(() => natsPermissions('clinet' as never), { name: 'InvalidArgumentError', message: 'natsPermissions: unknown role "clinet" (did you mean "client"?); the roles: client, worker, beat, monitor' })
  t.throws(() => natsPermissionsConfig('admin' as never), { name: 'InvalidArgumentError', message: /^natsPermissions: unknown role "admin"/ })
  t.throws(() => natsPermissions('client', { queue: ['mail'] } as never), { name: 'InvalidArgumentError', message: 'natsPermissions: unknown option queue (did you mean queues?); the options: namespace, queues, resultBucket, backend, inboxPrefix' })
})
