import t from 'tap'
import { ConfigError, createApp } from '../../src/index.js'
import { app } from '../fixtures/default-name-app.js'
import { other, shout } from '../fixtures/default-name-tasks.js'

t.test('app composition - two apps with the default name in one process each keep their tasks (issue 17)', async (t) => {
  t.equal(app.name, 'celeriac')
  t.equal(other.name, 'celeriac')
  const node = app.worker({ concurrency: 1, hostname: 'default-name@%h' })
  await node.start()
  t.teardown(async () => {
    await node.stop()
    await app.close()
    await other.close()
  })
  // Before: the thread found the app by its name in a process-global registry, got the one
  // created last (`other`), and failed the task with NotRegistered.
  t.equal(await (await shout.delay('hello')).get({ timeout: 10 }), 'HELLO!')
  t.notOk(app.tasks.has('default-name.other'))
  t.notOk(other.tasks.has('default-name.shout'))
})

t.test('app composition - an unknown URL scheme is a ConfigError that lists the known ones', async (t) => {
  const broker = createApp({ name: 'bad-broker', broker: 'amqp://guest:secret@localhost' })
  await t.rejects(broker.transport(), new ConfigError('config.broker: unsupported scheme in amqp://guest:**@localhost (supported: memory://, nats://, tls://)'))
  const backend = createApp({ name: 'bad-backend', backend: 'redis://localhost:6379' })
  await t.rejects(backend.backend(), new ConfigError('config.backend: unsupported scheme in redis://localhost:6379 (supported: memory://, nats://, tls://, rpc://)'))
  await t.rejects(createApp({ name: 'rpc-memory', backend: 'rpc://' }).backend(), new ConfigError('config.backend rpc:// needs a NATS server: give one in the URL or use a nats:// broker'))
})

t.test('app composition - a failed connect is not kept: close() resolves and the next call tries again', async (t) => {
  const app = createApp({ name: 'retry-connect', broker: 'bogus://nowhere' })
  await t.rejects(app.transport(), { name: 'ConfigError' })
  await t.resolves(app.close())
  app.configFromObject({ broker: 'memory://retry-connect' })
  const transport = await app.transport()
  t.equal(transport.kind, 'memory')
  await app.close()
})
