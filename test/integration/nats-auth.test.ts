import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createUser } from '@nats-io/nkeys'
import { configFromEnv } from '../../src/config/env.js'
import { TransportError } from '../../src/errors.js'
import { configuredServer, operatorSetup, q } from '../helpers/nats-config.js'
import { connects, roundTrip } from '../helpers/secure-round-trip.js'

// Each method against a nats-server configured for it: a task goes through a worker and back
// (config or URL), the other ways connect a transport (which creates its streams and buckets),
// and a wrong secret is refused with a message that does not print it.
const dir = mkdtempSync(join(tmpdir(), 'celeriac-auth-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))


const REFUSED = 'Authorization Violation: the server refused the credentials given (user and password, token, NKey or creds file)'
const hostOf = (url: string) => url.replace('nats://', '')

t.test('auth - user and password: URL, config, env; a wrong password is refused, censored', async (t) => {
  const server = await configuredServer(t, `authorization { users: [ { user: "alice", password: "s3cr#t" } ] }`)
  const host = hostOf(server.url)
  t.equal(await roundTrip({ broker: `nats://alice:s3cr%23t@${host}` }), 5, 'in the URL (percent-encoded)')
  t.equal(await roundTrip({ broker: server.url, natsUser: 'alice', natsPassword: 's3cr#t' }), 5, 'natsUser / natsPassword')
  t.same(configFromEnv({ CELERIAC_NATS_USER: 'alice', CELERIAC_NATS_PASSWORD: 's3cr#t' }), { natsUser: 'alice', natsPassword: 's3cr#t' }, 'CELERIAC_NATS_USER / CELERIAC_NATS_PASSWORD')
  await connects(server.url, { user: 'alice', pass: 's3cr#t' })
  const refused = await connects(`nats://alice:wrong@${host}`).then(() => undefined, (error: Error) => error)
  t.type(refused, TransportError)
  t.equal(refused?.message, `cannot connect to NATS at nats://alice:**@${host}: ${REFUSED}`)
  await t.rejects(connects(server.url), { name: 'TransportError', message: `cannot connect to NATS at ${server.url}: ${REFUSED}` }, 'no credentials')
})

t.test('auth - token: URL, config; a wrong token is refused, censored', async (t) => {
  const server = await configuredServer(t, `authorization { token: "t0ken-xyz" }`)
  const host = hostOf(server.url)
  t.equal(await roundTrip({ broker: `nats://t0ken-xyz@${host}` }), 5, 'in the URL')
  t.equal(await roundTrip({ broker: server.url, natsToken: 't0ken-xyz' }), 5, 'natsToken')
  await connects(server.url, { token: 't0ken-xyz' })
  await t.rejects(connects(`nats://nope@${host}`), { name: 'TransportError', message: `cannot connect to NATS at nats://**@${host}: ${REFUSED}` })
})

t.test('auth - NKey seed file: config, URL, celeriac/nats options', async (t) => {
  const user = createUser()
  const seedFile = join(dir, 'user.nk')
  writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()) + '\n')
  const server = await configuredServer(t, `authorization { users: [ { nkey: ${q(user.getPublicKey())} } ] }`)
  t.equal(await roundTrip({ broker: server.url, natsNkeySeedFile: seedFile }), 5, 'natsNkeySeedFile')
  await connects(`${server.url}?nkey=${encodeURIComponent(seedFile)}`)
  await connects(server.url, { nkeySeedFile: seedFile })
  const other = join(dir, 'other.nk')
  writeFileSync(other, new TextDecoder().decode(createUser().getSeed()))
  await t.rejects(connects(server.url, { nkeySeedFile: other }), { name: 'TransportError', message: `cannot connect to NATS at ${server.url}: ${REFUSED}` }, 'an unknown key')
  await t.rejects(connects(server.url, { nkeySeedFile: join(dir, 'missing.nk') }), { name: 'ConfigError', message: `cannot read the NATS NKey seed file ${join(dir, 'missing.nk')}: ENOENT` })
})

t.test('auth - JWT creds file (operator mode): config, URL, celeriac/nats options', async (t) => {
  const setup = await operatorSetup(dir)
  const server = await configuredServer(t, setup.config)
  t.equal(await roundTrip({ broker: server.url, natsCredentials: setup.credsFile }), 5, 'natsCredentials')
  await connects(`${server.url}?creds=${encodeURIComponent(setup.credsFile)}`)
  await connects(server.url, { credsFile: setup.credsFile })
  const stranger = await operatorSetup(mkdtempSync(join(dir, 'other-')))
  await t.rejects(connects(server.url, { credsFile: stranger.credsFile }), { name: 'TransportError', message: `cannot connect to NATS at ${server.url}: ${REFUSED}` }, 'a user of another operator')
  await t.rejects(connects(server.url), { name: 'TransportError' }, 'no creds')
})
