/**
 * Issue 19: a queued message whose NATS headers cannot be parsed is dead-lettered alone; the
 * rest of its fetch batch is delivered at once (before, the parse error ended the fetch and the
 * whole batch waited out its ack wait, forever). The bad messages are published on a raw
 * protocol connection (test/helpers/raw-nats.ts): the client refuses to build them.
 */
import t from 'tap'
import { Latch } from '../../src/testing/latch.js'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { NatsTransport } from '../../src/transport/nats/nats-transport.js'
import { Names } from '../../src/transport/nats/names.js'
import { consoleLogger } from '../../src/util/logger.js'
import { BAD_HEADERS, rawPublish } from '../helpers/raw-nats.js'
import type { Delivery } from '../../src/transport/transport.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

let server: NatsServer
t.before(async () => {
  server = await startNatsServer()
})
t.teardown(() => server?.cleanup())

t.test('a message with unparseable headers is dead-lettered alone; the rest of its batch is delivered', async (t) => {
  const prefix = `bh${process.pid}`
  // The default ack wait (30 s): a batch that waited for it would fail this test.
  const transport = new NatsTransport({ url: server.url, prefix, logger: consoleLogger('silent') })
  await transport.connect()
  t.teardown(() => transport.close())
  const queue = 'hostile'
  await transport.declareQueue({ name: queue })
  const subject = new Names(prefix).queueSubject(queue)
  await transport.publish({ exchange: '', routingKey: queue, body: encoder.encode('good-1') })
  for (const [name, block] of BAD_HEADERS) await rawPublish(server.url, subject, block, encoder.encode(name))
  await transport.publish({ exchange: '', routingKey: queue, body: encoder.encode('good-2') })
  t.equal(await transport.depth(queue), 2 + BAD_HEADERS.length, 'every message is in the stream: one fetch takes them all')

  const latch = new Latch<Delivery>(2, 5_000)
  transport.consume(queue, (delivery) => {
    latch.unlock(delivery)
    delivery.ack()
  }).pull(20)
  const delivered = await latch.promise
  t.same(delivered.map((d) => decoder.decode(d.body)), ['good-1', 'good-2'], 'the good messages arrive at once')

  const deadline = Date.now() + 5_000
  while ((await transport.deadLetters(queue)).length < BAD_HEADERS.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  const letters = await transport.deadLetters(queue)
  t.equal(letters.length, BAD_HEADERS.length, 'each bad message is dead-lettered')
  for (const [name, , reason] of BAD_HEADERS) {
    const letter = letters.find((l) => decoder.decode(l.body) === name)
    t.match(letter, { queue, reason, deliveryCount: 1 }, name)
  }
  t.equal(await transport.depth(queue), 0, 'nothing left to come back after an ack wait')
})
