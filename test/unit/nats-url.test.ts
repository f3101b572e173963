import t from 'tap'
import { ConfigError } from '../../src/errors.js'
import { createServer, type AddressInfo } from 'node:net'
import { connectNats, parseNatsUrl } from '../../src/transport/nats/connect.js'

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

t.test('nats url - query parameters name TLS, creds and NKey files and the inbox prefix', async (t) => {
  t.same(parseNatsUrl('nats://h:1?tls=true'), { servers: ['h:1'], tls: {} }, '?tls=true turns TLS on')
  t.same(parseNatsUrl('tls://h:1?tls_ca=%2Fca.pem&tls_cert=/c.pem&tls_key=/k.pem'), { servers: ['h:1'], tls: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' } }, 'mutual TLS files')
  t.same(parseNatsUrl('nats://a:1,b:2/?creds=/app.creds'), { servers: ['a:1', 'b:2'], credsFile: '/app.creds' })
  t.same(parseNatsUrl('nats://h:1?nkey=/u.nk&inbox_prefix=_INBOX_alice'), { servers: ['h:1'], nkeySeedFile: '/u.nk', inboxPrefix: '_INBOX_alice' })
  t.throws(() => parseNatsUrl('nats://u:pw@h:1?password=x'), new ConfigError('unknown parameter "password" in NATS URL nats://u:**@h:1?password=x (known: tls, tls_ca, tls_cert, tls_key, creds, nkey, inbox_prefix)'))
})

t.test('nats url - config keys become connection options; brokerTransportOptions win', async (t) => {
  const { natsOptionsFromConfig } = await import('../../src/adapters/nats-settings.js')
  const { DEFAULTS } = await import('../../src/config/defaults.js')
  t.same(natsOptionsFromConfig(DEFAULTS), {}, 'nothing by default')
  t.same(
    natsOptionsFromConfig({ ...DEFAULTS, natsUser: 'u', natsPassword: 'p', natsCredentials: '/a.creds', natsTls: { ca: '/ca.pem', cert: '/c.pem', key: '/k.pem' }, natsInboxPrefix: '_INBOX_u' }),
    { user: 'u', pass: 'p', credsFile: '/a.creds', inboxPrefix: '_INBOX_u', tls: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' } },
  )
  t.same(natsOptionsFromConfig({ ...DEFAULTS, natsToken: 't', brokerTransportOptions: { token: 'other' } }), { token: 'other' })
})

t.test('nats url - secret config keys print censored', async (t) => {
  const { Conf } = await import('../../src/config/conf.js')
  const conf = new Conf({ natsUser: 'alice', natsPassword: 'pw', natsToken: 'tok', natsCredentials: '/etc/nats/app.creds' })
  t.same(conf.humanize().split('\n'), ['natsUser: "alice"', 'natsPassword: **', 'natsToken: **', 'natsCredentials: "/etc/nats/app.creds"'])
  t.match(conf.censored(), { natsPassword: '**', natsToken: '**', natsUser: 'alice' })
  t.throws(() => new Conf({ natsTls: { ca: '/ca.pem', pem: 'x' } as never }), new ConfigError('config.natsTls.pem must be one of ca, cert, key, got "pem"'))
  t.throws(() => new Conf({ natsInboxPrefix: '_INBOX.>' }), new ConfigError('config.natsInboxPrefix must be subject tokens such as "_INBOX.alice", got "_INBOX.>"'))
})

t.test('connectNats - a port that accepts and never speaks NATS: the error, and no socket left to hold the process', async (t) => {
  // An HTTP port, a proxy: the TCP connect succeeds and no INFO ever comes.
  const closed = new Promise<void>((resolve) => {
    const server = createServer((socket) => socket.on('close', () => {
      server.close()
      resolve()
    }))
    server.listen(0, '127.0.0.1', async () => {
      const { port } = server.address() as AddressInfo
      await t.rejects(connectNats(`nats://127.0.0.1:${port}`, { timeout: 300 }), { name: 'TransportError', message: `cannot connect to NATS at nats://127.0.0.1:${port}: timeout` })
    })
  })
  await closed
  t.pass('the client closed its socket')
})
