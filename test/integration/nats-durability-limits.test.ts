// Issue 13, limits: a message over the server's max_payload is refused at send time with its
// size and the limit; a queue's max age and delivery limit dead-letter what goes past them,
// with the reason.
import t from 'tap'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { NatsTransport } from '../../src/transport/nats/nats-transport.js'
import { ConfigError, createApp, TransportError } from '../../src/index.js'
import type { Delivery } from '../../src/transport/transport.js'

let server: NatsServer
t.before(async () => {
  server = await startNatsServer()
})
t.teardown(() => server?.cleanup())

async function transport(t: { teardown(fn: () => unknown): void }, prefix: string): Promise<NatsTransport> {
  const tr = new NatsTransport({ url: server.url, prefix })
  await tr.connect()
  t.teardown(() => tr.close())
  return tr
}

t.test('a message over max_payload is refused at send time, naming its size and the limit', async (t) => {
  const tr = await transport(t, 'limpay')
  await tr.declareQueue({ name: 'big' })
  const body = new Uint8Array(1_048_576)
  await t.rejects(
    tr.publish({ exchange: '', routingKey: 'big', body }),
    new TransportError(
      'message of 1048576 bytes to queue "big" is over the NATS server\'s max_payload of 1048576 bytes (less 512 for headers): ' +
        'pass large data by reference (a URL, an object store key), or raise max_payload in the server config',
      { data: { bytes: 1_048_576, maxPayload: 1_048_576 } },
    ),
  )
  t.same((await tr.publish({ exchange: '', routingKey: 'big', body: new Uint8Array(1_000_000) })).queues, ['big'], 'one under the limit goes')
  t.equal(await tr.depth('big'), 1)
})

t.test('a message delivered past its queue\'s max age is dead-lettered with the reason', async (t) => {
  const tr = await transport(t, 'limage')
  await tr.declareQueue({ name: 'fresh', maxAgeMs: 300 })
  await tr.publish({ exchange: '', routingKey: 'fresh', body: new Uint8Array([1]) })
  await new Promise((resolve) => setTimeout(resolve, 500))
  await tr.publish({ exchange: '', routingKey: 'fresh', body: new Uint8Array([2]) })
  const delivered: Delivery[] = []
  const consumer = tr.consume('fresh', (d) => {
    delivered.push(d)
    d.ack()
  })
  consumer.pull(10)
  t.teardown(() => consumer.close())
  let letters = await tr.deadLetters('fresh')
  for (let i = 0; letters.length === 0 && i < 100; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    letters = await tr.deadLetters('fresh')
  }
  t.equal(letters.length, 1, 'the old one is dead-lettered')
  t.same([...letters[0].body], [1])
  t.match(letters[0].reason, /^max-age: delivered \d+ ms after it was due, over the queue's max age of 300 ms$/)
  while (delivered.length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(delivered.map((d) => [...d.body]), [[2]], 'the fresh one is delivered')
})

t.test('a delayed message is not too old for having waited its delay', async (t) => {
  const tr = await transport(t, 'limdelay')
  await tr.declareQueue({ name: 'later', maxAgeMs: 300 })
  await tr.publish({ exchange: '', routingKey: 'later', body: new Uint8Array([3]), notBefore: Date.now() + 600 })
  const delivered = await new Promise<Delivery>((resolve) => {
    const consumer = tr.consume('later', (d) => {
      d.ack()
      resolve(d)
      void consumer.close()
    })
    consumer.pull(1)
  })
  t.same([...delivered.body], [3])
  t.same(await tr.deadLetters('later'), [])
})

t.test('a queue\'s own delivery limit dead-letters with max-deliveries', async (t) => {
  const tr = await transport(t, 'limdel')
  await tr.declareQueue({ name: 'once', maxDeliver: 1 })
  await tr.publish({ exchange: '', routingKey: 'once', body: new Uint8Array([4]) })
  const consumer = tr.consume('once', (d) => d.nak())
  consumer.pull(1)
  t.teardown(() => consumer.close())
  let letters = await tr.deadLetters('once')
  for (let i = 0; letters.length === 0 && i < 100; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    letters = await tr.deadLetters('once')
  }
  t.equal(letters[0]?.reason, 'max-deliveries: delivered 1 time')
})

t.test('taskQueues limits are checked, naming the entry', async (t) => {
  t.throws(() => createApp({ name: 'lim-bad-age', config: { taskQueues: [{ name: 'a', maxAge: -1 }] } }), new ConfigError('config.taskQueues[0].maxAge must be a non-negative number of seconds or a duration string like \'10s\', got -1'))
  t.throws(() => createApp({ name: 'lim-bad-del', config: { taskQueues: [{ name: 'a', maxDeliver: 0 }] } }), new ConfigError('config.taskQueues[0].maxDeliver must be a positive integer, got 0'))
})
