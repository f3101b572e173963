import t from 'tap'
import { ConfigError } from '../../src/errors.js'
import { parseNatsUrl } from '../../src/transport/nats/connect.js'

t.test('nats url - servers, credentials and TLS pass through to the client', async (t) => {
  t.same(parseNatsUrl('nats://127.0.0.1:4222'), { servers: ['127.0.0.1:4222'] })
  t.same(parseNatsUrl('nats://a:4222,b:4223/'), { servers: ['a:4222', 'b:4223'] }, 'several servers')
  t.same(parseNatsUrl('nats://alice:s%40cret@h:4222'), { servers: ['h:4222'], user: 'alice', pass: 's@cret' }, 'user and password, decoded')
  t.same(parseNatsUrl('nats://tok3n@h:4222'), { servers: ['h:4222'], token: 'tok3n' }, 'a token')
  t.same(parseNatsUrl('tls://h:4222', { tls: { caFile: '/ca.pem' } }), { servers: ['h:4222'], tls: { caFile: '/ca.pem' } }, 'tls:// with certificate files')
  t.same(parseNatsUrl('nats://'), { servers: ['127.0.0.1:4222'] }, 'no host: the default server')
  t.same(parseNatsUrl('nats://h:1', { name: 'x', maxPingOut: 5 }), { servers: ['h:1'], name: 'x', maxPingOut: 5 }, 'extra options pass through')
})

t.test('nats url - a bad URL is refused without printing its password', async (t) => {
  t.throws(() => parseNatsUrl('http://alice:secret@h'), new ConfigError('not a NATS URL: http://alice:**@h (expected nats://[user:pass@]host:port[,host:port])'))
})
