import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { Kvm } from '@nats-io/kv'
import { BackendError, createApp } from '../../src/index.js'
import { natsServerAvailable, startNatsServer } from '../../src/testing/index.js'
import { msgpackCodec } from '../../src/serialization/codec.js'

// Hostile-input audit: a value in the results bucket that is no task record (garbage bytes,
// a string) at the key of a task whose get() was waiting left the get() waiting for ever (or
// till its timeout), while state() of the same id said what was wrong; a FAILURE record whose
// error was a bare string gave an Error without a message.
t.test('a stranger\'s write at a waited-on key ends the wait with the error that names it', { skip: natsServerAvailable() ? false : 'needs nats-server (apt-get install nats-server)' }, async (t) => {
  const nats = await startNatsServer()
  t.teardown(() => nats.cleanup())
  const app = createApp({ name: 'foreign', broker: nats.url, backend: 'nats://' })
  const nc = await connect({ servers: nats.url })
  t.teardown(async () => {
    await app.close()
    await nc.close()
  })
  await (await app.backend()).connect()
  const kv = await new Kvm(nc).open('celeriac-results')

  const garbage = app.asyncResult('foreign-garbage')
  const waiting = garbage.get({ timeout: 20 }).then(() => 'resolved', (error: unknown) => error)
  // Whether the write comes before the wait's watch is in place (its read then finds it) or
  // after (the watch sees it), the wait ends with the same error.
  t.equal(await garbage.state(), 'PENDING')
  await kv.put('foreign-garbage', new Uint8Array([0xc1, 0xff, 0x00]))
  const error = await waiting
  t.type(error, BackendError)
  t.match((error as Error).message, /^cannot decode the task record at bucket celeriac-results, key foreign-garbage/)

  await kv.put('foreign-failure', msgpackCodec.encode({ taskId: 'foreign-failure', state: 'FAILURE', error: 'boom' }))
  const failure = await app.asyncResult('foreign-failure').get({ timeout: 5 }).catch((e: unknown) => e)
  t.match(failure, { name: 'BackendError', message: /holds an error celeriac did not write: "boom"$/ })
})
