import fc from 'fast-check'
import t, { type Test } from 'tap'
import { InvalidArgumentError, TransportError } from '../../src/errors.js'
import { Deque } from '../../src/transport/memory/deque.js'
import { MemoryBroker, memoryBroker } from '../../src/transport/memory/memory-broker.js'
import { MemoryTransport, type MemoryTransportOptions } from '../../src/transport/memory/memory-transport.js'
import type { Delivery, OutgoingMessage } from '../../src/transport/transport.js'
import { SimulatedClock } from '../../src/util/clock.js'

const START = Date.UTC(2026, 0, 1)
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Lets pending microtask and setImmediate drains run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

function setup(test: Test, options: MemoryTransportOptions = {}) {
  const clock = new SimulatedClock(START)
  const broker = new MemoryBroker()
  const transport = new MemoryTransport({ broker, clock, ...options })
  test.teardown(() => transport.close())
  return { clock, broker, transport }
}

function message(queue: string, body: string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { exchange: '', routingKey: queue, body: encoder.encode(body), ...extra }
}

function collect(transport: MemoryTransport, queue: string, credit = 100) {
  const deliveries: Delivery[] = []
  const consumer = transport.consume(queue, (d) => deliveries.push(d))
  consumer.pull(credit)
  return { deliveries, consumer, bodies: () => deliveries.map((d) => decoder.decode(d.body)) }
}

t.test('memory transport - deliveries arrive asynchronously, never inside publish or pull', async (t) => {
  const { transport } = setup(t)
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'a'))
  const { deliveries } = collect(transport, 'q')
  t.equal(deliveries.length, 0)
  await flush()
  t.equal(deliveries.length, 1)
})

t.test('memory transport - ack wait runs out on simulated time', async (t) => {
  const { clock, transport } = setup(t)
  await transport.declareQueue({ name: 'q', ackWaitMs: 1_000 })
  await transport.publish(message('q', 'a'))
  const { deliveries } = collect(transport, 'q')
  await flush()
  clock.advance(999)
  await flush()
  t.equal(deliveries.length, 1, 'not before the ack wait')
  clock.advance(1)
  await flush()
  t.same(
    deliveries.map((d) => d.deliveryCount),
    [1, 2],
  )
})

t.test('memory transport - working() restarts the ack wait on simulated time', async (t) => {
  const { clock, transport } = setup(t)
  await transport.declareQueue({ name: 'q', ackWaitMs: 1_000 })
  await transport.publish(message('q', 'a'))
  const { deliveries } = collect(transport, 'q')
  await flush()
  clock.advance(800)
  deliveries[0].working()
  clock.advance(999)
  await flush()
  t.equal(deliveries.length, 1, 'postponed')
  clock.advance(1)
  await flush()
  t.equal(deliveries.length, 2)
})

t.test('memory transport - the default ack wait comes from the options', async (t) => {
  const { clock, transport } = setup(t, { ackWaitMs: 50 })
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'a'))
  const { deliveries } = collect(transport, 'q')
  await flush()
  clock.advance(50)
  await flush()
  t.equal(deliveries.length, 2)
})

t.test('memory transport - notBefore holds messages on simulated time, earliest first', async (t) => {
  const { clock, transport } = setup(t)
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'late', { notBefore: START + 5_000 }))
  await transport.publish(message('q', 'early-1', { notBefore: START + 2_000 }))
  await transport.publish(message('q', 'early-2', { notBefore: START + 2_000 }))
  t.equal(await transport.depth('q'), 3, 'delayed messages count in the depth')
  const { bodies } = collect(transport, 'q')
  clock.advance(1_999)
  await flush()
  t.same(bodies(), [])
  clock.advance(1)
  await flush()
  t.same(bodies(), ['early-1', 'early-2'], 'FIFO among equal due times')
  clock.advance(3_000)
  await flush()
  t.same(bodies(), ['early-1', 'early-2', 'late'])
})

t.test('memory transport - nak with a delay on simulated time', async (t) => {
  const { clock, transport } = setup(t)
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'a'))
  const { deliveries } = collect(transport, 'q')
  await flush()
  deliveries[0].nak(500)
  t.equal(await transport.depth('q'), 1, 'held as delayed')
  clock.advance(499)
  await flush()
  t.equal(deliveries.length, 1)
  clock.advance(1)
  await flush()
  t.equal(deliveries[1]?.deliveryCount, 2)
})

t.test('memory transport - nak puts the message before newer ones of its priority', async (t) => {
  const { transport } = setup(t)
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'a'))
  await transport.publish(message('q', 'b'))
  const { deliveries, consumer, bodies } = collect(transport, 'q', 1)
  await flush()
  deliveries[0].nak()
  consumer.pull(2)
  await flush()
  t.same(bodies(), ['a', 'a', 'b'])
})

t.test('memory transport - a message nak-ed back keeps its priority', async (t) => {
  const { transport } = setup(t)
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'high', { priority: 5 }))
  await transport.publish(message('q', 'low'))
  const { deliveries, consumer, bodies } = collect(transport, 'q', 1)
  await flush()
  await transport.publish(message('q', 'middle', { priority: 3 }))
  deliveries[0].nak()
  consumer.pull(3)
  await flush()
  t.same(bodies(), ['high', 'high', 'middle', 'low'])
})

t.test('memory transport - the duplicate window expires on simulated time', async (t) => {
  const { clock, transport } = setup(t, { duplicateWindowMs: 1_000 })
  await transport.declareQueue({ name: 'q' })
  t.equal((await transport.publish(message('q', 'a', { msgId: 'm' }))).duplicate, false)
  clock.advance(999)
  t.equal((await transport.publish(message('q', 'a', { msgId: 'm' }))).duplicate, true)
  clock.advance(1)
  t.same(await transport.publish(message('q', 'a', { msgId: 'm' })), { queues: ['q'], duplicate: false })
})

t.test('memory transport - duplicateWindowMs 0 turns dedupe off', async (t) => {
  const { transport } = setup(t, { duplicateWindowMs: 0 })
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'a', { msgId: 'm' }))
  t.equal((await transport.publish(message('q', 'a', { msgId: 'm' }))).duplicate, false)
  t.equal(await transport.depth('q'), 2)
})

t.test('memory transport - a msgId that reached no queue is not remembered', async (t) => {
  const { transport } = setup(t)
  t.same(await transport.publish(message('q', 'a', { msgId: 'm' })), { queues: [], duplicate: false })
  await transport.declareQueue({ name: 'q' })
  t.same(await transport.publish(message('q', 'a', { msgId: 'm' })), { queues: ['q'], duplicate: false })
})

t.test('memory transport - dedupe is shared by every connection to the broker', async (t) => {
  const { broker, clock, transport } = setup(t)
  const other = new MemoryTransport({ broker, clock })
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'a', { msgId: 'm' }))
  t.equal((await other.publish(message('q', 'a', { msgId: 'm' }))).duplicate, true)
})

t.test('memory transport - revoked ids expire on simulated time', async (t) => {
  const { clock, broker, transport } = setup(t)
  await transport.revoke('a', 1_000)
  await transport.revoke('b', 5_000)
  const view = await new MemoryTransport({ broker, clock }).revoked()
  t.ok(view.has('a'))
  t.same(view.list(), ['a', 'b'])
  clock.advance(1_000)
  t.notOk(view.has('a'), 'expired')
  t.same(view.list(), ['b'])
  await transport.revoke('b', 1)
  clock.advance(1)
  t.same(view.list(), [], 'revoking again replaces the expiry')
})

t.test('memory transport - memoryBroker gives one broker per name', async (t) => {
  t.equal(memoryBroker(), memoryBroker(''))
  t.equal(memoryBroker('x'), memoryBroker('x'))
  t.not(memoryBroker('x'), memoryBroker(''))
  t.equal(new MemoryTransport().broker, memoryBroker(''), 'the default broker is memory://')
})

t.test('memory transport - round robin among consumers with credit', async (t) => {
  const { transport } = setup(t)
  await transport.declareQueue({ name: 'q' })
  const order: string[] = []
  transport.consume('q', () => order.push('a')).pull(10)
  transport.consume('q', () => order.push('b')).pull(2)
  // Published while both wait, so every message finds both with credit.
  for (let i = 0; i < 6; i++) await transport.publish(message('q', `${i}`))
  await flush()
  t.same(order, ['a', 'b', 'a', 'b', 'a', 'a'], 'b gets no more than its credit of 2')
})

t.test('memory transport - a batch larger than one drain pass is delivered whole', async (t) => {
  const { transport } = setup(t)
  await transport.declareQueue({ name: 'q' })
  for (let i = 0; i < 5_000; i++) await transport.publish(message('q', `${i}`))
  const { deliveries } = collect(transport, 'q', 5_000)
  for (let i = 0; i < 20 && deliveries.length < 5_000; i++) await flush()
  t.equal(deliveries.length, 5_000)
  t.equal(decoder.decode(deliveries[4_999].body), '4999', 'in order')
})

t.test('memory transport - close clears its timers; a later consumer catches up', async (t) => {
  const { clock, broker, transport } = setup(t)
  await transport.declareQueue({ name: 'q', ackWaitMs: 1_000, maxDeliver: 1 })
  await transport.publish(message('q', 'a'))
  await transport.publish(message('q', 'b', { notBefore: START + 10_000 }))
  collect(transport, 'q', 1)
  await flush()
  t.equal(clock.pending, 1, 'one timer for the whole queue')
  await transport.close()
  t.equal(clock.pending, 0, 'closing leaves no timer')
  clock.advance(10_000)
  const other = new MemoryTransport({ broker, clock })
  t.teardown(() => other.close())
  t.same(
    (await other.deadLetters('q')).map((l) => [l.reason, l.deliveryCount]),
    [['max-deliveries: delivered 1 time', 1]],
    'the expired delivery is dead-lettered when looked at',
  )
  const { bodies } = collect(other, 'q')
  await flush()
  t.same(bodies(), ['b'], 'the due message is delivered to the new consumer')
})

t.test('memory transport - timers move to the consumers left when a connection closes', async (t) => {
  const { clock, broker, transport } = setup(t)
  const other = new MemoryTransport({ broker, clock })
  t.teardown(() => other.close())
  await transport.declareQueue({ name: 'q', ackWaitMs: 1_000 })
  await transport.publish(message('q', 'a'))
  const first = collect(transport, 'q')
  await flush()
  const second = collect(other, 'q')
  await transport.close()
  clock.advance(1_000)
  await flush()
  t.equal(first.deliveries.length, 1)
  t.same(
    second.deliveries.map((d) => d.deliveryCount),
    [2],
  )
})

t.test('memory transport - redeclaring a queue changes only the settings it names', async (t) => {
  const { clock, transport } = setup(t)
  await transport.declareQueue({ name: 'q', ackWaitMs: 5_000, maxDeliver: 2 })
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'a'))
  const { deliveries } = collect(transport, 'q')
  await flush()
  await transport.declareQueue({ name: 'q', ackWaitMs: 1_000 })
  clock.advance(1_000)
  await flush()
  t.equal(deliveries.length, 1, 'a delivery keeps the deadline it was given')
  clock.advance(4_000)
  await flush()
  t.equal(deliveries.length, 2)
  clock.advance(1_000)
  await flush()
  t.equal(deliveries.length, 2, 'maxDeliver 2 kept')
  t.equal((await transport.deadLetters('q'))[0]?.reason, 'max-deliveries: delivered 2 times')
})

t.test('memory transport - nak on the last allowed delivery dead-letters, even with a delay', async (t) => {
  const { transport } = setup(t)
  await transport.declareQueue({ name: 'q', maxDeliver: 1 })
  await transport.publish(message('q', 'a'))
  const { deliveries } = collect(transport, 'q')
  await flush()
  deliveries[0].nak(1_000)
  t.equal(await transport.depth('q'), 0)
  t.match(await transport.deadLetters(), [{ queue: 'q', reason: 'max-deliveries: delivered 1 time', deliveryCount: 1, at: START }])
})

t.test('memory transport - a closed consumer keeps settling its deliveries', async (t) => {
  const { transport } = setup(t)
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'a'))
  const { deliveries, consumer } = collect(transport, 'q')
  await flush()
  await consumer.close()
  consumer.pull(5)
  deliveries[0].nak()
  const other = collect(transport, 'q')
  await flush()
  t.equal(deliveries.length, 1)
  t.equal(other.deliveries[0]?.deliveryCount, 2)
})

t.test('memory transport - pubsub delivers asynchronously; unsubscribing before then drops it', async (t) => {
  const { transport } = setup(t)
  const seen: string[] = []
  const sub = transport.subscribe('a.*', (subject) => seen.push(subject))
  transport.broadcast('a.b', new Uint8Array())
  t.same(seen, [])
  await flush()
  t.same(seen, ['a.b'])
  transport.broadcast('a.c', new Uint8Array())
  sub.unsubscribe()
  await flush()
  t.same(seen, ['a.b'])
})

t.test('memory transport - closing a connection ends its subscriptions only', async (t) => {
  const { broker, transport } = setup(t)
  const other = new MemoryTransport({ broker })
  t.teardown(() => other.close())
  const seen: string[] = []
  transport.subscribe('x', () => seen.push('closed'))
  other.subscribe('x', () => seen.push('open'))
  await transport.close()
  other.broadcast('x', new Uint8Array())
  await flush()
  t.same(seen, ['open'])
})

t.test('memory transport - errors name what is wrong', async (t) => {
  const { transport } = setup(t)
  const body = new Uint8Array()
  await t.rejects(
    transport.publish({ exchange: 'nope', routingKey: 'k', body }),
    new TransportError('exchange "nope" is not declared'),
  )
  t.throws(() => transport.consume('nope', () => {}), new TransportError('queue "nope" is not declared'))
  await t.rejects(transport.depth('nope'), new TransportError('queue "nope" is not declared'))
  await t.rejects(
    transport.declareQueue({ name: 'q', bindings: [{ exchange: 'nope', key: 'k' }] }),
    new TransportError('exchange "nope" is not declared (binding of queue "q")'),
  )
  await transport.declareExchange({ name: 'e', type: 'topic' })
  await t.rejects(
    transport.declareExchange({ name: 'e', type: 'direct' }),
    new TransportError('exchange "e" is already declared as topic, not direct'),
  )
  await t.rejects(
    transport.declareExchange({ name: '', type: 'fanout' }),
    new TransportError('the default exchange "" is direct, not fanout'),
  )
  await t.rejects(
    transport.declareExchange({ name: 'h', type: 'headers' as 'direct' }),
    new InvalidArgumentError('exchange.type must be one of direct, topic, fanout'),
  )
  await t.rejects(
    transport.declareQueue({ name: '' }),
    new InvalidArgumentError('queue.name must be a non-empty string'),
  )
  await t.rejects(
    transport.declareQueue({ name: 'q', ackWaitMs: 0 }),
    new InvalidArgumentError('queue.ackWaitMs must be a positive finite number'),
  )
  await t.rejects(
    transport.declareQueue({ name: 'q', maxDeliver: 1.5 }),
    new InvalidArgumentError('queue.maxDeliver must be a positive integer'),
  )
  await t.rejects(
    transport.publish({ exchange: '', routingKey: 'q', body, priority: 10 }),
    new InvalidArgumentError('message.priority must be an integer from 0 to 9'),
  )
  await t.rejects(
    transport.publish({ exchange: '', routingKey: 'q', body: 'text' as unknown as Uint8Array }),
    new InvalidArgumentError('message.body must be a Uint8Array'),
  )
  await t.rejects(
    transport.publish({ exchange: '', routingKey: 'q', body, notBefore: Number.NaN }),
    new InvalidArgumentError('message.notBefore must be a finite number (epoch ms)'),
  )
  await t.rejects(transport.revoke('id', 0), new InvalidArgumentError('ttlMs must be a positive finite number'))
  t.throws(
    () => transport.broadcast('a.*', body),
    new InvalidArgumentError('subject must be dot-separated non-empty tokens without wildcards'),
  )
  t.throws(
    () => transport.subscribe('a.>.b', () => {}),
    new InvalidArgumentError('pattern must be dot-separated non-empty tokens, with ">" only as the last token'),
  )
  t.throws(
    () => new MemoryTransport({ ackWaitMs: -1 }),
    new InvalidArgumentError('options.ackWaitMs must be a positive finite number'),
  )
  await transport.declareQueue({ name: 'q' })
  await transport.publish(message('q', 'a'))
  const { deliveries, consumer } = collect(transport, 'q')
  t.throws(() => consumer.pull(0), new InvalidArgumentError('n must be a positive integer'))
  await flush()
  t.throws(() => deliveries[0].nak(-1), new InvalidArgumentError('delayMs must be a non-negative finite number'))
  await transport.close()
  await t.rejects(transport.publish(message('q', 'a')), new TransportError('memory transport is closed'))
  await transport.connect()
  t.same((await transport.publish(message('q', 'a'))).queues, ['q'], 'connect() reopens')
})

t.test('memory transport - publishNow stores before it returns, and throws what publish rejects with', async (t) => {
  const { transport } = setup(t)
  await transport.declareQueue({ name: 'q' })
  const ack = transport.publishNow(message('q', 'a', { msgId: 'm1' }))
  t.same(ack, { queues: ['q'], duplicate: false })
  t.equal(await transport.depth('q'), 1, 'in the queue already')
  t.same(transport.publishNow(message('q', 'a', { msgId: 'm1' })), { queues: [], duplicate: true }, 'the same dedupe as publish')
  t.same(await transport.publish(message('q', 'b', { msgId: 'm1' })), { queues: [], duplicate: true })
  t.throws(() => transport.publishNow({ exchange: 'nope', routingKey: 'k', body: new Uint8Array() }), new TransportError('exchange "nope" is not declared'))
  t.throws(() => transport.publishNow(message('q', 'a', { priority: 10 })), new InvalidArgumentError('message.priority must be an integer from 0 to 9'))
  const { bodies } = collect(transport, 'q')
  await flush()
  t.same(bodies(), ['a'])
  await transport.close()
  t.throws(() => transport.publishNow(message('q', 'c')), new TransportError('memory transport is closed'))
})

t.test('memory transport - the ring buffer behaves as an array', async (t) => {
  const op = fc.oneof(
    fc.record({ push: fc.integer() }),
    fc.record({ unshift: fc.integer() }),
    fc.constant('shift' as const),
  )
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const deque = new Deque<number>()
      const model: number[] = []
      for (const o of ops) {
        if (o === 'shift') {
          if (deque.shift() !== model.shift()) return false
        } else if ('push' in o) {
          deque.push(o.push)
          model.push(o.push)
        } else {
          deque.unshift(o.unshift)
          model.unshift(o.unshift)
        }
        if (deque.size !== model.length) return false
      }
      return true
    }),
  )
  t.pass()
})
