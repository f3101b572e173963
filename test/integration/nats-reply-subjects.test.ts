import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { natsServerAvailable, startNatsServer } from '../../src/testing/index.js'
import { NatsKvBackend } from '../../src/nats/index.js'
import { encodeMessage } from '../../src/protocol/envelope.js'
import { msgpackCodec } from '../../src/serialization/codec.js'
import { until } from '../helpers/until.js'

// Hostile-input audit: a worker publishes a task's ready record to the task's `replyTo`, and a
// control answer to the request's reply inbox, both chosen by the sender. A sender allowed only
// to send tasks named `$KV.celeriac-results.<another task's id>`, and the worker, which may
// write results, overwrote that task's result with its own. Such a task is now dead-lettered as
// invalid, and such a control request gets no answer.
t.test('a replyTo or reply inbox in the broker\'s own state is refused', { skip: natsServerAvailable() ? false : 'needs nats-server (apt-get install nats-server)' }, async (t) => {
  const nats = await startNatsServer()
  t.teardown(() => nats.cleanup())
  process.env.CELERIAC_BROKER_URL = nats.url
  const { app, add } = await import('../fixtures/nats-app.js')
  const node = app.worker({ concurrency: 1 })
  const nc = await connect({ servers: nats.url })
  const reader = new NatsKvBackend({ url: nats.url })
  t.teardown(async () => {
    await node.stop()
    await app.close()
    await reader.close()
    await nc.close()
  })
  await node.start()
  const victim = await add.delay(20, 22)
  t.equal(await victim.get({ timeout: 10 }), 42)
  const stolen = `$KV.celeriac-results.${victim.id}`

  // A task whose replyTo is the victim's record, published as a hostile client would.
  const forged = `forged-${process.pid}`
  const transport = await app.transport()
  await transport.publish({
    exchange: '',
    routingKey: 'celery',
    msgId: forged,
    body: encodeMessage({ headers: { id: forged, task: 'n.add', retries: 0, rootId: forged, contentType: 'application/x-msgpack', replyTo: stolen }, body: msgpackCodec.encode([[1, 1], null]) }),
  })
  const letters = await until(() => transport.deadLetters('celery'), (l) => l.length > 0, 'the forged task to be dead-lettered')
  t.match(letters[0]!.reason, /^invalid message: headers\.replyTo must be a reply subject .*not a \$ subject of JetStream or KV/)

  // A control request whose reply inbox is the victim's record.
  nc.publish('celeriac.bus.celeriac.control.inspect', msgpackCodec.encode({ command: 'ping' }), { reply: stolen })
  // The node answers requests in order: once a proper ping is answered, the forged one was handled.
  t.match(await app.control.ping({ timeout: 5 }), { [node.hostname]: { ok: 'pong' } })

  await reader.connect()
  t.match(await reader.get(victim.id), { state: 'SUCCESS' }, "the victim's record is its own")
  t.equal(await app.asyncResult(victim.id).get({ timeout: 5 }), 42)
})
