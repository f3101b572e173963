import { rmSync } from 'node:fs'
import t from 'tap'
import { configFromEnv } from '../../src/config/env.js'
import { configuredServer, q } from '../helpers/nats-config.js'
import { makeCertificates } from '../helpers/tls.js'
import { connects, roundTrip } from '../helpers/secure-round-trip.js'

// TLS against nats-servers with certificates from a CA made here: the server verified with that
// CA (URL, config, env, celeriac/nats options), then mutual TLS, where the server verifies the
// client's certificate and refuses a client without one.
const certs = makeCertificates()
t.teardown(() => rmSync(certs.dir, { recursive: true, force: true }))


const tlsUrl = (url: string) => url.replace('nats://', 'tls://')

t.test('tls - the server is verified with the CA: URL, config, env, celeriac/nats options', async (t) => {
  const server = await configuredServer(t, `tls { cert_file: ${q(certs.serverCert)}, key_file: ${q(certs.serverKey)} }`)
  t.equal(await roundTrip({ broker: `${tlsUrl(server.url)}?tls_ca=${encodeURIComponent(certs.ca)}` }), 5, 'tls:// with ?tls_ca=')
  t.equal(await roundTrip({ broker: server.url, natsTls: { ca: certs.ca } }), 5, 'natsTls.ca turns TLS on')
  t.same(configFromEnv({ CELERIAC_NATS_TLS: JSON.stringify({ ca: certs.ca }) }), { natsTls: { ca: certs.ca } }, 'CELERIAC_NATS_TLS')
  await connects(`${server.url}?tls=true&tls_ca=${encodeURIComponent(certs.ca)}`)
  await connects(server.url, { tls: { caFile: certs.ca } })
  await t.rejects(connects(tlsUrl(server.url)), { name: 'TransportError', message: `cannot connect to NATS at ${tlsUrl(server.url)}: unable to verify the first certificate` }, 'a server whose CA is not trusted is refused')
})

t.test('tls - mutual TLS: the client certificate from config or options; none is refused', async (t) => {
  const server = await configuredServer(t, `tls { cert_file: ${q(certs.serverCert)}, key_file: ${q(certs.serverKey)}, ca_file: ${q(certs.ca)}, verify: true }`)
  t.equal(await roundTrip({ broker: server.url, natsTls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } }), 5, 'natsTls with cert and key')
  const query = new URLSearchParams({ tls_ca: certs.ca, tls_cert: certs.clientCert, tls_key: certs.clientKey })
  await connects(`${tlsUrl(server.url)}?${query}`)
  await connects(server.url, { tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } })
  // nats.js waits its connect timeout for a server that closed the connection: 1 s here.
  await t.rejects(connects(server.url, { tls: { caFile: certs.ca }, timeout: 1_000 }), {
    name: 'TransportError',
    message: `cannot connect to NATS at ${server.url}: timeout (over TLS: if the server verifies clients, give a client certificate and key: natsTls.cert and natsTls.key)`,
  }, 'no client certificate')
})
