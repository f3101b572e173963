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
