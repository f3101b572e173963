/**
 * NatsTransport behaviour the conformance suite cannot reach: a real nats-server that
 * restarts, connections that die mid-delivery, names NATS cannot take as they are, and
 * topology learned from other processes.
 */
import { connect } from '@nats-io/transport-node'
import { Kvm } from '@nats-io/kv'
import t, { type Test } from 'tap'
import { Latch } from '../../src/testing/latch.js'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { NatsTransport, type NatsTransportOptions } from '../../src/transport/nats/nats-transport.js'
import { NatsRequestError, requestsOf } from '../../src/transport/nats/requests.js'
import type { Delivery } from '../../src/transport/transport.js'
import { consoleLogger } from '../../src/util/logger.js'
import { obeysInterval } from '../helpers/spacing.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
// Timers may fire a few ms early against the wall clock, and the server keeps its own.
const EARLY_MS = 25

let server: NatsServer
t.before(async () => {
  server = await startNatsServer()
})
t.teardown(() => server?.cleanup())

let n = 0

/** Opens connected transports sharing one fresh prefix, closed after the test. */
function transports(t: Test, options: Partial<NatsTransportOptions> = {}) {
  const prefix = `it${process.pid}-${++n}`
  return Object.assign(
    async () => {
      // Restarts log reconnect warnings on purpose; keep the test output quiet.
      const transport = new NatsTransport({ url: server.url, prefix, logger: consoleLogger('silent'), ...options })
      await transport.connect()
      t.teardown(() => transport.close())
      return transport
    },
    { prefix },
  )
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

t.test('restart - a delayed message already sent back by a consumer arrives once, after its time', async (t) => {
  const transport = await transports(t)()
  await transport.declareQueue({ name: 'later', ackWaitMs: 1_000 })
  const due = Date.now() + 3_000
  await transport.publish({ exchange: '', routingKey: 'later', body: encoder.encode('eta'), notBefore: due })
  const arrivals: { at: number; delivery: Delivery }[] = []
  const latch = new Latch<void>(1, 15_000)
  transport.consume('later', (delivery) => {
    arrivals.push({ at: Date.now(), delivery })
    delivery.ack()
    latch.unlock()
  }).pull(10)
  // Let the consumer receive it early and send it back to the server to hold.
  await delay(300)
  t.equal(arrivals.length, 0, 'not delivered early')
  await server.restart()
  await latch.promise
  await delay(500)
  t.equal(arrivals.length, 1, 'delivered once')
  t.ok(arrivals[0].at >= due - EARLY_MS, `delivered ${arrivals[0].at - due} ms after its time`)
  t.equal(decoder.decode(arrivals[0].delivery.body), 'eta')
  t.equal(arrivals[0].delivery.deliveryCount, 1, 'early arrivals are not counted as deliveries')
})

t.test('restart - a queued message survives a server restart', async (t) => {
  const open = transports(t)
  const publisher = await open()
  await publisher.declareQueue({ name: 'kept' })
  await publisher.publish({ exchange: '', routingKey: 'kept', body: encoder.encode('survivor') })
  await publisher.close()
  await server.restart()
  const worker = await open()
  const latch = new Latch<Delivery>(1)
  worker.consume('kept', (delivery) => latch.unlock(delivery)).pull(1)
  const [delivery] = await latch.promise
  t.equal(decoder.decode(delivery.body), 'survivor')
  t.equal(delivery.deliveryCount, 1)
  delivery.ack()
  // The ack is fire-and-forget: the server removes the message a moment later.
  const deadline = Date.now() + 2_000
  while ((await worker.depth('kept')) > 0 && Date.now() < deadline) await delay(20)
  t.equal(await worker.depth('kept'), 0)
})

t.test('dead node - an unacked delivery of a node whose connection dies goes to another after the ack wait', async (t) => {
  const open = transports(t)
  const survivor = await open()
  await survivor.declareQueue({ name: 'work', ackWaitMs: 500 })
  const nc = await connect({ servers: server.url })
  // A shared connection is all it needs: no url.
  const doomed = new NatsTransport({ connection: nc, prefix: open.prefix, logger: consoleLogger('silent') })
  t.throws(() => new NatsTransport({ prefix: open.prefix }), { name: 'InvalidArgumentError', message: 'options.url must be a NATS URL when no options.connection is given' })
  await doomed.connect()
  await survivor.publish({ exchange: '', routingKey: 'work', body: encoder.encode('job') })
  const first = new Latch<Delivery>(1)
  doomed.consume('work', (delivery) => first.unlock(delivery)).pull(1)
  await first.promise
  const deliveredAt = Date.now()
  await nc.close()
  const second = new Latch<Delivery>(1)
  survivor.consume('work', (delivery) => second.unlock(delivery)).pull(1)
  const [delivery] = await second.promise
  const waited = Date.now() - deliveredAt
  t.ok(waited >= 500 - EARLY_MS, `redelivered ${waited} ms after the first delivery`)
  t.equal(decoder.decode(delivery.body), 'job')
  t.equal(delivery.deliveryCount, 2)
  delivery.ack()
  await doomed.close()
})

t.test('dead letters - keep their reason, queue and count, across a restart and for other connections', async (t) => {
  const open = transports(t, { maxDeliver: 1 })
  const transport = await open()
  const queue = 'odd name/ü.x'
  await transport.declareQueue({ name: queue, ackWaitMs: 300 })
  await transport.publish({ exchange: '', routingKey: queue, body: encoder.encode('bad') })
  await transport.publish({ exchange: '', routingKey: queue, body: encoder.encode('slow') })
  const reason = 'cannot decode: ünïcode % 100\nsecond line'
  const latch = new Latch<Delivery>(2)
  transport.consume(queue, (delivery) => {
    // The first is terminated; the second is left to run out of ack wait, past maxDeliver 1.
    if (decoder.decode(delivery.body) === 'bad') delivery.term(reason)
    latch.unlock(delivery)
  }).pull(10)
  await latch.promise
  const deadline = Date.now() + 5_000
  while ((await transport.deadLetters(queue)).length < 2 && Date.now() < deadline) await delay(50)
  await server.restart()
  const other = await open()
  const letters = await other.deadLetters(queue)
  t.match(letters, [
    { queue, reason, deliveryCount: 1 },
    { queue, reason: 'max-deliveries: delivered 1 time', deliveryCount: 1 },
  ])
  t.same(letters.map((l) => decoder.decode(l.body)), ['bad', 'slow'])
  t.equal(await other.depth(queue), 0, 'both left the queue')
})

t.test('topology - a publisher learns exchanges and bindings declared by another process', async (t) => {
  const open = transports(t)
  const publisher = await open()
  const worker = await open()
  await worker.declareExchange({ name: 'events', type: 'topic' })
  await worker.declareQueue({ name: 'audit', bindings: [{ exchange: 'events', key: 'user.#' }] })
  const ack = await publisher.publish({ exchange: 'events', routingKey: 'user.created', body: encoder.encode('u1') })
  t.same(ack, { queues: ['audit'], duplicate: false })
  await t.rejects(publisher.declareExchange({ name: 'events', type: 'fanout' }), {
    name: 'TransportError',
    message: 'exchange "events" is already declared as topic, not fanout',
  })
  const late = await open()
  t.same((await late.publish({ exchange: 'events', routingKey: 'user', body: encoder.encode('u2') })).queues, ['audit'])
  t.equal(await late.depth('audit'), 2)
})

t.test('not before - a delayed message sent back early by one node is a first delivery on another, not a redelivery', async (t) => {
  // Found by an outside audit: countdown tasks and retries were counted in
  // celeriac_tasks_redelivered_total (meant for lost nodes) whenever a node other than the one
  // that saw them early ran them.
  const open = transports(t)
  const early = await open()
  const late = await open()
  await early.declareQueue({ name: 'hop' })
  const due = Date.now() + 1_500
  await early.publish({ exchange: '', routingKey: 'hop', body: encoder.encode('later'), notBefore: due })
  const consumer = early.consume('hop', () => t.fail('not delivered early'))
  consumer.pull(1)
  // The early arrival is nak'd with the rest of its delay; this node then stops consuming.
  const deadline = Date.now() + 5_000
  while ((await early.queueStats('hop')).delayed === 0 && Date.now() < deadline) await delay(20)
  await consumer.close()
  const latch = new Latch<Delivery>(1, 10_000)
  late.consume('hop', (delivery) => latch.unlock(delivery)).pull(1)
  const [delivery] = await latch.promise
  t.ok(Date.now() >= due - EARLY_MS, 'at its time')
  t.equal(delivery.deliveryCount, 1, 'a first delivery')
  delivery.ack()
})

t.test('not before - a message due past what JetStream\'s nak delay holds (the year 9999) is held, not redelivered in a loop', async (t) => {
  const open = transports(t)
  const transport = await open()
  await transport.declareQueue({ name: 'far' })
  // A nak delay of over 292 years wraps around JetStream's int64 nanoseconds to none: the
  // server handed the message straight back, thousands of times a second.
  await transport.publish({ exchange: '', routingKey: 'far', body: encoder.encode('far'), notBefore: Date.UTC(9999, 11, 31) })
  await transport.publish({ exchange: '', routingKey: 'far', body: encoder.encode('now') })
  const latch = new Latch<Delivery>(1)
  transport.consume('far', (delivery) => latch.unlock(delivery)).pull(10)
  const [now] = await latch.promise
  t.equal(decoder.decode(now.body), 'now')
  now.ack()
  // Time for a looping message to come back many times over (it did within milliseconds).
  await delay(500)
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const { Names, WORKERS } = await import('../../src/transport/nats/names.js')
  const info = await (await jetstreamManager(nc)).consumers.info(new Names(open.prefix).queueStream('far'), WORKERS)
  t.equal(info.delivered.consumer_seq, 2, 'each message delivered once')
  t.equal(await transport.depth('far'), 1, 'the far one is still held')
})

t.test('purge and depth - a delayed message held after an early arrival waits; a running one does not', async (t) => {
  const transport = await transports(t)()
  await transport.declareQueue({ name: 'mixed' })
  await transport.publish({ exchange: '', routingKey: 'mixed', body: encoder.encode('later'), notBefore: Date.now() + 60_000 })
  await transport.publish({ exchange: '', routingKey: 'mixed', body: encoder.encode('now') })
  const latch = new Latch<Delivery>(1)
  const consumer = transport.consume('mixed', (delivery) => latch.unlock(delivery))
  consumer.pull(2)
  const [running] = await latch.promise
  t.equal(decoder.decode(running.body), 'now', 'the delayed one went back to the server to hold')
  await consumer.close()
  for (const body of ['ready-1', 'ready-2']) await transport.publish({ exchange: '', routingKey: 'mixed', body: encoder.encode(body) })
  t.equal(await transport.depth('mixed'), 3, 'held + ready; the running one is not counted')
  t.equal(await transport.purge('mixed'), 3)
  t.equal(await transport.depth('mixed'), 0)
  running.ack()
  const deadline = Date.now() + 2_000
  while ((await transport.depth('mixed')) > 0 && Date.now() < deadline) await delay(20)
  const other = new Latch<Delivery>(1, 500)
  transport.consume('mixed', (delivery) => other.unlock(delivery)).pull(10)
  await t.rejects(other.promise, 'nothing left: the running one was acked, the rest purged')
})

t.test('revoke - an id expires from views at its own TTL; any id can be revoked', async (t) => {
  const transport = await transports(t)()
  await transport.revoke('long', 60_000)
  await transport.revoke('short', 300)
  await transport.revoke('odd id/ü.*', 60_000)
  const view = await transport.revoked()
  t.teardown(() => view.close())
  t.ok(view.has('long') && view.has('short') && view.has('odd id/ü.*'))
  await delay(350)
  t.notOk(view.has('short'), 'expired locally')
  t.same(view.list().sort(), ['long', 'odd id/ü.*'])
})

t.test('rate limits - a burst from three connections gets distinct slots one interval apart', async (t) => {
  const open = transports(t)
  const connections = await Promise.all([open(), open(), open()])
  const started = Date.now()
  const slots = await Promise.all(
    Array.from({ length: 30 }, (_, i) => connections[i % 3].reserveRate('t.burst', 20).then((wait) => Date.now() + wait - started)),
  )
  // A slot is read as "now + wait" when its reservation resolves, so a callback run late on a
  // busy machine shifts one reading: the run's span and half-interval gaps are what it shows.
  const spacing = obeysInterval(slots, 20)
  t.ok(spacing.ok, `distinct slots one interval apart: ${spacing.detail}`)
})

t.test('rate limits - a reservation the server leaves unanswered past the request timeout is retried, not failed', async (t) => {
  const open = transports(t)
  const transport = await open()
  // A long interval, so that the last check below cannot be outrun by a slow machine.
  t.equal(await transport.reserveRate('t.stall', 1_000), 0, 'the bucket is open and the first slot is now')
  const frozen = await server.freeze()
  t.teardown(() => frozen.resume())
  const reserved = transport.reserveRate('t.stall', 1_000)
  let settled = false
  void reserved.then(() => (settled = true), () => (settled = true))
  // The server hangs for longer than a JetStream request waits for its answer (5 s).
  await new Promise((resolve) => setTimeout(resolve, 6_000))
  t.notOk(settled, 'nothing is answered while the server hangs')
  frozen.resume()
  const wait = await reserved
  t.ok(wait >= 0 && wait <= 1_000, `then the reservation is answered with a slot (${wait} ms to wait)`)
  t.ok((await transport.reserveRate('t.stall', 1_000)) > 0, 'and the limit holds from there on')
})

t.test('rate limits - one request per uncontended reservation; the key is readable and survives a delete', async (t) => {
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const open = transports(t, { connection: nc })
  const transport = await open()
  t.equal(await transport.reserveRate('tasks.send mail', 50), 0, 'the first slot is now')
  const before = nc.stats().outMsgs
  const wait = await transport.reserveRate('tasks.send mail', 50)
  // The time of the reservation, not of the reads below: under load they take tens of ms.
  const reservedAt = Date.now()
  t.equal(nc.stats().outMsgs - before, 1, 'the second reservation was one compare-and-set')
  t.ok(wait > 0 && wait <= 50, `and waits for the next slot (${wait} ms)`)
  const kv = await new Kvm(nc).open(`${open.prefix}-rate`)
  t.same(await collect(await kv.keys()), ['tasks.=73656e64206d61696c'], 'one key; safe parts of the name stay as they are')
  const entry = await kv.get('tasks.=73656e64206d61696c')
  t.ok(Math.abs(Number(entry!.string()) - (reservedAt + wait + 50)) <= EARLY_MS, 'the key holds when the next slot is free')
  // Deleted behind this process's back: its cached revision is stale; it reads again, and the limit starts afresh.
  await kv.delete('tasks.=73656e64206d61696c')
  t.equal(await transport.reserveRate('tasks.send mail', 50), 0, 'a deleted limit is free')
  t.ok((await transport.reserveRate('tasks.send mail', 50)) > 0, 'and is kept again from then on')
})

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = []
  for await (const item of items) all.push(item)
  return all
}

t.test('requests - each times out at its own deadline, a short one sent after long ones too', async (t) => {
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  // Somebody listens, so the server does not answer "no responders"; nobody replies.
  nc.subscribe(`silent.${process.pid}`, { callback: () => {} })
  await nc.flush()
  const requests = requestsOf(nc)
  const subject = `silent.${process.pid}`
  const began = performance.now()
  const settled = (timeoutMs: number) =>
    requests.request(subject, new Uint8Array(), undefined, timeoutMs).then(
      () => ({ timeoutMs, after: NaN, error: undefined as unknown }),
      (error: unknown) => ({ timeoutMs, after: performance.now() - began, error }),
    )
  // Long ones first: the sweep must still reach the short one behind them.
  const outcomes = await Promise.all([settled(1_500), settled(1_500), settled(300), settled(600)])
  for (const { timeoutMs, after, error } of outcomes) {
    t.ok(error instanceof NatsRequestError && error.reason === 'timeout', `the ${timeoutMs} ms request timed out`)
    // Deadlines are checked every 100 ms.
    t.ok(after >= timeoutMs - EARLY_MS && after <= timeoutMs + 100 + 250, `the ${timeoutMs} ms request failed after ${Math.round(after)} ms`)
  }
})
