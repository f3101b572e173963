/**
 * The Transport conformance suite: every transport (memory, NATS) runs this same suite.
 *
 * Tests use real time with short ack waits, wait on latches ("N deliveries arrived")
 * rather than sleeps, and declare their own uniquely named queues and exchanges so that a
 * shared broker cannot mix them up. Only negative checks ("nothing more arrives") wait a
 * short fixed time, since no latch can prove an absence.
 * @module
 */
import type { Test } from 'tap'
import type { Delivery, Transport } from '../../src/transport/transport.js'
import { TRANSPORT_DEFAULTS } from '../../src/transport/defaults.js'
import { DEFAULTS } from '../../src/config/defaults.js'

/** What `create` gives each test. */
export interface TransportSuiteContext {
  /** A connected transport, closed by the suite after the test. */
  transport: Transport
  /** Opens another connection to the same broker, e.g. a second node started later. */
  second?: () => Promise<Transport>
  /** Runs after the test, after the transports are closed. */
  cleanup?: () => Promise<void>
}

/** Options of {@link runTransportSuite}. */
export interface TransportSuiteOptions {
  /** Name of the implementation, e.g. `memory` or `nats`. */
  name: string
  /** Makes a fresh, connected transport for one test. */
  create: () => Promise<TransportSuiteContext>
  /** Tests this implementation does not pass, by name, each group with the reason printed. */
  skip?: { reason: string; tests: string[] }[]
}

/** Ack wait of the queues in tests that wait for redelivery, ms. */
export const ACK_WAIT_MS = 300
// Timers may fire a few ms early against the wall clock, and the NATS server keeps its own.
const EARLY_MS = 25
const LATCH_TIMEOUT_MS = 4_000
const QUIET_MS = 150

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`
let counter = 0

function unique(prefix: string): string {
  return `${prefix}-${runId}-${++counter}`
}

function bytes(text: string): Uint8Array {
  return encoder.encode(text)
}

function text(delivery: { body: Uint8Array }): string {
  return decoder.decode(delivery.body)
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Waits a short while so that something that should not happen has a chance to. */
function quiet(ms = QUIET_MS): Promise<void> {
  return delay(ms)
}

/** Polls `check` until it returns true; for state that settles asynchronously (dead letters, KV). */
async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + LATCH_TIMEOUT_MS
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await delay(10)
  }
}

/** Collects arrivals and resolves latches when enough have arrived. */
class Inbox<T> {
  readonly items: T[] = []
  readonly times: number[] = []
  #latches: { n: number; resolve: () => void }[] = []

  readonly push = (item: T): void => {
    this.items.push(item)
    this.times.push(Date.now())
    this.#latches = this.#latches.filter((latch) => {
      if (this.items.length < latch.n) return true
      latch.resolve()
      return false
    })
  }

  /** Resolves once `n` items have arrived; rejects after a timeout with what did arrive. */
  until(n: number): Promise<T[]> {
    if (this.items.length >= n) return Promise.resolve(this.items)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`expected ${n} arrivals, got ${this.items.length} in ${LATCH_TIMEOUT_MS} ms`))
      }, LATCH_TIMEOUT_MS)
      this.#latches.push({
        n,
        resolve: () => {
          clearTimeout(timer)
          resolve(this.items)
        },
      })
    })
  }
}

type Body = (t: Test, context: TransportSuiteContext) => Promise<void>

async function queueWith(
  transport: Transport,
  options: { ackWaitMs?: number; maxDeliver?: number } = {},
): Promise<string> {
  const name = unique('q')
  await transport.declareQueue({ name, ...options })
  return name
}

function direct(queue: string, body: string, extra: { msgId?: string; notBefore?: number; priority?: number } = {}) {
  return { exchange: '', routingKey: queue, body: bytes(body), ...extra }
}

/** The `second` connection factory, or undefined after recording a skip when there is none. */
function secondOrSkip(t: Test, context: TransportSuiteContext): (() => Promise<Transport>) | undefined {
  if (!context.second) t.pass('needs a second connection', { skip: 'create() gave no `second`' })
  return context.second
}

const cases: Record<string, Body> = {
  'default exchange - routes to the queue named by the routing key': async (t, { transport }) => {
    const queue = await queueWith(transport)
    const ack = await transport.publish(direct(queue, 'hello'))
    t.same(ack, { queues: [queue], duplicate: false })
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(1)
    const [delivery] = await inbox.until(1)
    t.equal(text(delivery), 'hello')
    t.equal(delivery.queue, queue)
    t.equal(delivery.exchange, '')
    t.equal(delivery.routingKey, queue)
    t.equal(delivery.deliveryCount, 1)
    delivery.ack()
  },

  'default exchange - a routing key naming no queue stores nothing': async (t, { transport }) => {
    const ack = await transport.publish(direct(unique('nowhere'), 'lost'))
    t.same(ack, { queues: [], duplicate: false })
  },

  'direct exchange - routes by the exact binding key': async (t, { transport }) => {
    const exchange = unique('direct')
    await transport.declareExchange({ name: exchange, type: 'direct' })
    const [red, blue] = [unique('red'), unique('blue')]
    await transport.declareQueue({ name: red, bindings: [{ exchange, key: 'color.red' }] })
    await transport.declareQueue({ name: blue, bindings: [{ exchange, key: 'color.blue' }] })
    const ack = await transport.publish({ exchange, routingKey: 'color.red', body: bytes('r') })
    t.same(ack, { queues: [red], duplicate: false })
    t.same((await transport.publish({ exchange, routingKey: 'color.*', body: bytes('x') })).queues, [])
    t.same((await transport.publish({ exchange, routingKey: 'color', body: bytes('x') })).queues, [])
    t.equal(await transport.depth(red), 1)
    t.equal(await transport.depth(blue), 0)
  },

  'topic exchange - * is one word and # zero or more words': async (t, { transport }) => {
    const exchange = unique('topic')
    await transport.declareExchange({ name: exchange, type: 'topic' })
    const [all, one] = [unique('feed-all'), unique('feed-one')]
    await transport.declareQueue({ name: all, bindings: [{ exchange, key: 'feed.#' }] })
    await transport.declareQueue({ name: one, bindings: [{ exchange, key: 'feed.*' }] })
    const route = async (key: string) => {
      return (await transport.publish({ exchange, routingKey: key, body: bytes(key) })).queues
    }
    t.same(await route('feed'), [all], 'feed.# matches feed')
    t.same((await route('feed.a')).sort(), [all, one].sort(), 'feed.a')
    t.same(await route('feed.a.b'), [all], 'feed.a.b')
    t.same(await route('feedx'), [], 'feedx matches neither')
    t.same(await route('other.feed'), [], 'other.feed matches neither')
    const inbox = new Inbox<Delivery>()
    transport.consume(all, inbox.push).pull(10)
    const deliveries = await inbox.until(3)
    t.same(deliveries.map(text), ['feed', 'feed.a', 'feed.a.b'])
    t.same(deliveries.map((d) => d.exchange), [exchange, exchange, exchange])
    for (const d of deliveries) d.ack()
  },

  'topic exchange - a queue matched by two bindings stores the message once': async (t, { transport }) => {
    const exchange = unique('topic')
    await transport.declareExchange({ name: exchange, type: 'topic' })
    const queue = unique('twice')
    await transport.declareQueue({
      name: queue,
      bindings: [
        { exchange, key: 'job.*' },
        { exchange, key: 'job.#' },
      ],
    })
    t.same((await transport.publish({ exchange, routingKey: 'job.run', body: bytes('x') })).queues, [queue])
    t.equal(await transport.depth(queue), 1)
  },

  'fanout exchange - every bound queue gets one copy': async (t, { transport }) => {
    const exchange = unique('fanout')
    await transport.declareExchange({ name: exchange, type: 'fanout' })
    const queues = [unique('fan'), unique('fan'), unique('fan')]
    for (const name of queues) await transport.declareQueue({ name, bindings: [{ exchange, key: 'ignored' }] })
    // A second binding with another key must not double the copy.
    await transport.declareQueue({ name: queues[0], bindings: [{ exchange, key: 'other' }] })
    const ack = await transport.publish({ exchange, routingKey: 'anything', body: bytes('all') })
    t.same([...ack.queues].sort(), [...queues].sort())
    for (const name of queues) {
      t.equal(await transport.depth(name), 1, name)
      const inbox = new Inbox<Delivery>()
      transport.consume(name, inbox.push).pull(5)
      const [delivery] = await inbox.until(1)
      t.equal(text(delivery), 'all')
      delivery.ack()
    }
  },

  'exchange - redeclaring with another type is refused': async (t, { transport }) => {
    const exchange = unique('typed')
    await transport.declareExchange({ name: exchange, type: 'topic' })
    await transport.declareExchange({ name: exchange, type: 'topic' })
    await t.rejects(transport.declareExchange({ name: exchange, type: 'fanout' }), { name: 'TransportError' })
  },

  'exchange - publishing to an undeclared exchange is refused, naming it': async (t, { transport }) => {
    const exchange = unique('undeclared')
    await t.rejects(transport.publish({ exchange, routingKey: 'x', body: bytes('x') }), {
      name: 'TransportError',
      code: 'ERR_TRANSPORT',
      message: new RegExp(exchange),
    })
  },

  'consume - an undeclared queue is refused, naming it': async (t, { transport }) => {
    const queue = unique('undeclared')
    t.throws(() => transport.consume(queue, () => {}), {
      name: 'TransportError',
      code: 'ERR_TRANSPORT',
      message: new RegExp(queue),
    })
  },

  'consume - competing consumers get each message once': async (t, { transport }) => {
    const queue = await queueWith(transport)
    const inbox = new Inbox<{ by: string; delivery: Delivery }>()
    for (const by of ['a', 'b']) {
      transport.consume(queue, (delivery) => {
        inbox.push({ by, delivery })
        delivery.ack()
      }).pull(100)
    }
    for (let i = 0; i < 20; i++) await transport.publish(direct(queue, `m${i}`))
    await inbox.until(20)
    await quiet()
    t.equal(inbox.items.length, 20, 'no message delivered twice')
    t.equal(new Set(inbox.items.map((i) => text(i.delivery))).size, 20, 'every message delivered')
  },

  'consume - never delivers more than the credit pulled': async (t, { transport }) => {
    const queue = await queueWith(transport)
    for (let i = 0; i < 5; i++) await transport.publish(direct(queue, `m${i}`))
    const inbox = new Inbox<Delivery>()
    const consumer = transport.consume(queue, inbox.push)
    consumer.pull(2)
    await inbox.until(2)
    await quiet()
    t.equal(inbox.items.length, 2, 'exactly the credit')
    consumer.pull(3)
    await inbox.until(5)
    await quiet()
    t.equal(inbox.items.length, 5)
    t.same(inbox.items.map(text), ['m0', 'm1', 'm2', 'm3', 'm4'], 'FIFO')
    for (const d of inbox.items) d.ack()
  },

  'consume - a closed consumer gets no more; its deliveries return after the ack wait': async (t, { transport }) => {
    const queue = await queueWith(transport, { ackWaitMs: ACK_WAIT_MS })
    await transport.publish(direct(queue, 'first'))
    const closed = new Inbox<Delivery>()
    const consumer = transport.consume(queue, closed.push)
    consumer.pull(10)
    await closed.until(1)
    await consumer.close()
    await transport.publish(direct(queue, 'second'))
    const open = new Inbox<Delivery>()
    transport.consume(queue, open.push).pull(10)
    const deliveries = await open.until(2)
    t.equal(closed.items.length, 1, 'the closed consumer got nothing more')
    const first = deliveries.find((d) => text(d) === 'first')
    t.equal(first?.deliveryCount, 2, 'the unsettled delivery came back')
    t.equal(deliveries.find((d) => text(d) === 'second')?.deliveryCount, 1)
    for (const d of deliveries) d.ack()
  },

  'ack - removes the message; settling again does nothing': async (t, { transport }) => {
    const queue = await queueWith(transport, { ackWaitMs: ACK_WAIT_MS })
    await transport.publish(direct(queue, 'done'))
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(10)
    const [delivery] = await inbox.until(1)
    delivery.ack()
    delivery.ack()
    delivery.working()
    delivery.nak()
    delivery.term('too late')
    await quiet(ACK_WAIT_MS + QUIET_MS)
    t.equal(inbox.items.length, 1, 'not redelivered')
    t.equal(await transport.depth(queue), 0)
    t.same(await transport.deadLetters(queue), [])
  },

  'nak - redelivers with deliveryCount 2': async (t, { transport }) => {
    const queue = await queueWith(transport)
    await transport.publish(direct(queue, 'again'))
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(10)
    const [first] = await inbox.until(1)
    t.equal(first.deliveryCount, 1)
    first.nak()
    const [, second] = await inbox.until(2)
    t.equal(text(second), 'again')
    t.equal(second.deliveryCount, 2)
    second.ack()
  },

  'nak - with a delay, the message is not redelivered before the delay': async (t, { transport }) => {
    const queue = await queueWith(transport)
    await transport.publish(direct(queue, 'later'))
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(10)
    const [first] = await inbox.until(1)
    const nakAt = Date.now()
    first.nak(400)
    const [, second] = await inbox.until(2)
    t.ok(inbox.times[1] - nakAt >= 400 - EARLY_MS, `redelivered after ${inbox.times[1] - nakAt} ms`)
    t.equal(second.deliveryCount, 2)
    second.ack()
  },

  'ack wait - an unsettled delivery is redelivered': async (t, { transport }) => {
    const queue = await queueWith(transport, { ackWaitMs: ACK_WAIT_MS })
    await transport.publish(direct(queue, 'slow'))
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(10)
    await inbox.until(2)
    const [first, second] = inbox.items
    t.equal(second.deliveryCount, 2)
    t.equal(text(second), 'slow')
    const waited = inbox.times[1] - inbox.times[0]
    t.ok(waited >= ACK_WAIT_MS - EARLY_MS, `redelivered after ${waited} ms`)
    first.ack()
    second.ack()
  },

  'ack wait - working() postpones the redelivery': async (t, { transport }) => {
    const queue = await queueWith(transport, { ackWaitMs: ACK_WAIT_MS })
    await transport.publish(direct(queue, 'busy'))
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(10)
    const [first] = await inbox.until(1)
    await delay(ACK_WAIT_MS / 2)
    first.working()
    const workingAt = Date.now()
    const [, second] = await inbox.until(2)
    const waited = inbox.times[1] - workingAt
    t.ok(waited >= ACK_WAIT_MS - EARLY_MS, `redelivered ${waited} ms after working()`)
    t.equal(second.deliveryCount, 2)
    second.ack()
  },

  'ack wait - settling a delivery after its redelivery leaves the new one alone': async (t, { transport }) => {
    const queue = await queueWith(transport, { ackWaitMs: ACK_WAIT_MS })
    await transport.publish(direct(queue, 'stale'))
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(10)
    const [stale] = await inbox.until(2)
    stale.working()
    stale.ack()
    stale.term('stale')
    // The second delivery is left unsettled: it must come back once more.
    const [, , third] = await inbox.until(3)
    t.equal(third.deliveryCount, 3)
    t.same(await transport.deadLetters(queue), [])
    third.ack()
  },

  'maxDeliver - the last failed delivery is dead-lettered with reason max-deliveries: delivered N times': async (t, { transport }) => {
    const queue = await queueWith(transport, { ackWaitMs: ACK_WAIT_MS, maxDeliver: 2 })
    await transport.publish(direct(queue, 'poison'))
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, (delivery) => {
      inbox.push(delivery)
      delivery.nak()
    }).pull(10)
    await inbox.until(2)
    await eventually('the dead letter', async () => (await transport.deadLetters(queue)).length > 0)
    const [letter] = await transport.deadLetters(queue)
    t.match(letter, { queue, reason: 'max-deliveries: delivered 2 times', deliveryCount: 2 })
    t.equal(text(letter), 'poison')
    await quiet()
    t.same(inbox.items.map((d) => d.deliveryCount), [1, 2], 'not delivered a third time')
    t.equal(await transport.depth(queue), 0)
  },

  'maxDeliver - bounded by default: a queue declared without a limit dead-letters after brokerMaxDeliver deliveries': async (t, { transport }) => {
    const limit = TRANSPORT_DEFAULTS.maxDeliver
    t.equal(limit, DEFAULTS.brokerMaxDeliver, 'the config table sets it')
    const queue = await queueWith(transport, { ackWaitMs: ACK_WAIT_MS })
    await transport.publish(direct(queue, 'crashes every worker'))
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, (delivery) => {
      inbox.push(delivery)
      // Half the deliveries are nak'd, half left to run out of their ack wait (a worker that died).
      if (delivery.deliveryCount % 2 === 1) delivery.nak()
    }).pull(100)
    await inbox.until(limit)
    await eventually('the dead letter', async () => (await transport.deadLetters(queue)).length > 0)
    const [letter] = await transport.deadLetters(queue)
    t.match(letter, { queue, reason: `max-deliveries: delivered ${limit} times`, deliveryCount: limit })
    await quiet()
    t.same(inbox.items.map((d) => d.deliveryCount), Array.from({ length: limit }, (_, i) => i + 1), 'never delivered again')
    t.equal(await transport.depth(queue), 0)
  },

  'term - dead-letters the message with the reason': async (t, { transport }) => {
    const queue = await queueWith(transport, { ackWaitMs: ACK_WAIT_MS })
    await transport.publish(direct(queue, 'bad'))
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(10)
    const before = Date.now()
    const [delivery] = await inbox.until(1)
    delivery.term('cannot decode')
    await eventually('the dead letter', async () => (await transport.deadLetters(queue)).length > 0)
    const letters = await transport.deadLetters(queue)
    t.equal(letters.length, 1)
    t.match(letters[0], { queue, reason: 'cannot decode', deliveryCount: 1 })
    t.equal(text(letters[0]), 'bad')
    t.ok(letters[0].at >= before - EARLY_MS && letters[0].at <= Date.now() + EARLY_MS, 'at is the time of death')
    t.ok((await transport.deadLetters()).some((l) => l.queue === queue), 'listed among all dead letters')
    await quiet(ACK_WAIT_MS + QUIET_MS)
    t.equal(inbox.items.length, 1, 'not redelivered')
  },

  'replay - dead letters go back to their queue, oldest first, and leave the dead letters': async (t, { transport }) => {
    const queue = await queueWith(transport, { ackWaitMs: ACK_WAIT_MS })
    for (const body of ['first', 'second']) await transport.publish(direct(queue, body))
    const inbox = new Inbox<Delivery>()
    const consumer = transport.consume(queue, inbox.push)
    consumer.pull(2)
    for (const delivery of await inbox.until(2)) delivery.term('broken')
    await eventually('two dead letters', async () => (await transport.deadLetters(queue)).length === 2)
    t.equal(await transport.replayDeadLetters(queue), 2)
    t.same(await transport.deadLetters(queue), [], 'no dead letters left')
    consumer.pull(2)
    const again = await inbox.until(4)
    t.same(again.slice(2).map(text), ['first', 'second'], 'back in order')
    t.same(again.slice(2).map((d) => d.deliveryCount), [1, 1], 'as new messages')
    again.slice(2).forEach((d) => d.ack())
    t.equal(await transport.replayDeadLetters(queue), 0, 'nothing more to replay')
  },

  'dedupe - a msgId seen within the window is dropped, also after ack': async (t, { transport }) => {
    const queue = await queueWith(transport)
    const msgId = unique('task')
    t.same(await transport.publish(direct(queue, 'one', { msgId })), { queues: [queue], duplicate: false })
    t.same(await transport.publish(direct(queue, 'two', { msgId })), { queues: [], duplicate: true })
    t.equal(await transport.depth(queue), 1)
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(10)
    const [delivery] = await inbox.until(1)
    t.equal(delivery.msgId, msgId)
    t.equal(text(delivery), 'one')
    delivery.ack()
    t.same(await transport.publish(direct(queue, 'three', { msgId })), { queues: [], duplicate: true })
    await quiet()
    t.equal(inbox.items.length, 1)
    const other = await transport.publish(direct(queue, 'other', { msgId: unique('task') }))
    t.same(other.queues, [queue], 'other ids pass')
  },

  'notBefore - the message is held until due; a past time is ready at once': async (t, { transport }) => {
    const queue = await queueWith(transport)
    const start = Date.now()
    await transport.publish(direct(queue, 'later', { notBefore: start + 400 }))
    await transport.publish(direct(queue, 'past', { notBefore: start - 60_000 }))
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(10)
    const [past] = await inbox.until(1)
    t.equal(text(past), 'past')
    const [, later] = await inbox.until(2)
    t.equal(text(later), 'later')
    t.ok(inbox.times[1] >= start + 400 - EARLY_MS, `delivered ${inbox.times[1] - start} ms after publish`)
    t.equal(later.deliveryCount, 1)
    past.ack()
    later.ack()
  },

  'priority - higher priority first, FIFO within a level': async (t, { transport }) => {
    const queue = await queueWith(transport)
    const sent: [string, number][] = [
      ['p0a', 0],
      ['p5a', 5],
      ['p9a', 9],
      ['p5b', 5],
      ['none', -1],
      ['p9b', 9],
    ]
    for (const [body, priority] of sent) {
      await transport.publish(direct(queue, body, priority < 0 ? {} : { priority }))
    }
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(10)
    const deliveries = await inbox.until(sent.length)
    t.same(deliveries.map(text), ['p9a', 'p9b', 'p5a', 'p5b', 'p0a', 'none'])
    t.same(deliveries.map((d) => d.priority), [9, 9, 5, 5, 0, 0])
    for (const d of deliveries) d.ack()
  },

  'purge and depth - count ready and delayed, not in flight': async (t, { transport }) => {
    const queue = await queueWith(transport)
    for (let i = 0; i < 3; i++) await transport.publish(direct(queue, `m${i}`))
    await transport.publish(direct(queue, 'delayed', { notBefore: Date.now() + 60_000 }))
    t.equal(await transport.depth(queue), 4)
    const inbox = new Inbox<Delivery>()
    transport.consume(queue, inbox.push).pull(1)
    await inbox.until(1)
    t.equal(await transport.depth(queue), 3, 'the delivery in flight is not counted')
    t.equal(await transport.purge(queue), 3)
    t.equal(await transport.depth(queue), 0)
    inbox.items[0].ack()
    await transport.publish(direct(queue, 'after'))
    t.equal(await transport.depth(queue), 1, 'the queue still works')
    await t.rejects(transport.depth(unique('undeclared')), { name: 'TransportError' })
  },

  'revoke - visible to a connection created later, and kept up to date': async (t, context) => {
    const { transport } = context
    const second = secondOrSkip(t, context)
    if (!second) return
    const id = unique('task')
    await transport.revoke(id, 60_000)
    const later = await second()
    t.teardown(() => later.close())
    const view = await later.revoked()
    t.teardown(() => view.close())
    await eventually('the revoked id', () => view.has(id))
    t.ok(view.list().includes(id))
    t.notOk(view.has(unique('task')), 'other ids are not revoked')
    const next = unique('task')
    await transport.revoke(next, 60_000)
    await eventually('the id revoked after the view opened', () => view.has(next))
  },

  'revoke - an id noted in a view (a revoke broadcast) counts there at once, until its end': async (t, { transport }) => {
    const view = await transport.revoked()
    t.teardown(() => view.close())
    const [id, past] = [unique('task'), unique('task')]
    view.note(id, Date.now() + 60_000)
    view.note(past, Date.now() - 1)
    t.ok(view.has(id), 'counted before any store of it reached the view')
    t.ok(view.list().includes(id), 'and listed')
    t.notOk(view.has(past), 'not past its end')
  },

  'reserveRate - slots of one limit are spaced by the interval across connections; keys are apart': async (t, context) => {
    const { transport } = context
    const second = secondOrSkip(t, context)
    if (!second) return
    const other = await second()
    t.teardown(() => other.close())
    const reserve = (by: Transport, key: string, intervalMs: number) => {
      if (!by.reserveRate) throw new Error(`${by.kind} has no reserveRate`)
      return by.reserveRate(key, intervalMs)
    }
    const key = unique('rate')
    // Taken one after another, alternating connections: slots 0, 100, ..., 500 ms after the first,
    // each wait that less the time the reservations before it took (a loaded machine takes tens
    // of ms each: the slots, not the waits, are what must not move).
    const waits: number[] = []
    const slots: number[] = []
    for (let i = 0; i < 6; i++) {
      const wait = await reserve(i % 2 === 0 ? transport : other, key, 100)
      waits.push(wait)
      slots.push(Date.now() + wait)
    }
    t.equal(waits[0], 0, 'the first slot is now')
    for (let i = 1; i < 6; i++) {
      const after = slots[i] - slots[0]
      t.ok(waits[i] > 0 && waits[i] <= 100 * i && Math.abs(after - 100 * i) <= EARLY_MS, `reservation ${i} waits for a slot ${100 * i} ms after the first (got ${after}, waiting ${waits[i]} ms)`)
      const gap = slots[i] - slots[i - 1]
      t.ok(Math.abs(gap - 100) <= EARLY_MS, `slots ${i - 1} and ${i} are 100 ms apart (got ${gap})`)
    }
    // Taken at once from both connections: each gets its own slot, none shared.
    const burst = unique('rate')
    const started = Date.now()
    const at = await Promise.all(Array.from({ length: 6 }, (_, i) => reserve(i % 2 === 0 ? transport : other, burst, 100).then((wait) => Date.now() + wait - started)))
    const sorted = [...at].sort((a, b) => a - b)
    t.ok(sorted[0] <= EARLY_MS, `one of a burst runs now (first slot at +${sorted[0]} ms)`)
    for (let i = 1; i < 6; i++) t.ok(sorted[i] - sorted[i - 1] >= 100 - EARLY_MS, `burst slots ${i - 1} and ${i} are spread out (${sorted.join(', ')})`)
    t.equal(await reserve(other, unique('rate'), 100), 0, 'another key is not held back by the busy ones')
    t.ok((await reserve(transport, key, 1)) > 0, 'the busy key still is')
    await t.rejects(reserve(transport, '', 100), { name: 'InvalidArgumentError', message: 'key must be a non-empty string' })
    await t.rejects(reserve(transport, key, 0), { name: 'InvalidArgumentError', message: 'intervalMs must be a positive finite number' })
  },

  'pubsub - * is one token, > the rest; unsubscribe stops delivery': async (t, { transport }) => {
    const root = unique('evt')
    const star = new Inbox<string>()
    const tail = new Inbox<string>()
    const exact = new Inbox<string>()
    const starSub = transport.subscribe(`${root}.*.started`, (subject, data) => {
      star.push(`${subject} ${decoder.decode(data)}`)
    })
    transport.subscribe(`${root}.>`, (subject) => tail.push(subject))
    transport.subscribe(`${root}.x.started`, (subject) => exact.push(subject))
    transport.broadcast(`${root}.x.started`, bytes('one'))
    transport.broadcast(`${root}.y.done`, bytes('two'))
    transport.broadcast(`${root}.a.b.c`, bytes('three'))
    transport.broadcast(root, bytes('root itself'))
    await tail.until(3)
    t.same(tail.items, [`${root}.x.started`, `${root}.y.done`, `${root}.a.b.c`], '> needs at least one token')
    t.same(star.items, [`${root}.x.started one`])
    t.same(exact.items, [`${root}.x.started`])
    starSub.unsubscribe()
    transport.broadcast(`${root}.z.started`, bytes('four'))
    await tail.until(4)
    await quiet()
    t.equal(star.items.length, 1, 'nothing after unsubscribe')
  },

  'request - every subscriber replies; replies are collected until the timeout': async (t, { transport }) => {
    const root = unique('ctl')
    transport.subscribe(`${root}.>`, (_subject, data, reply) => reply?.(bytes(`a:${decoder.decode(data)}`)))
    transport.subscribe(`${root}.cmd`, (_subject, data, reply) => reply?.(bytes(`b:${decoder.decode(data)}`)))
    transport.subscribe(`${root}.cmd`, () => {})
    const started = Date.now()
    const replies = await transport.request(`${root}.cmd`, bytes('ping'), { timeoutMs: 300 })
    t.same(replies.map((r) => decoder.decode(r)).sort(), ['a:ping', 'b:ping'], 'one reply per replying subscriber')
    t.ok(Date.now() - started >= 300 - EARLY_MS, 'waited for the timeout')
    t.same(await transport.request(`${root}-nobody.cmd`, bytes('ping'), { timeoutMs: 50 }), [], 'no subscriber: no replies')
  },

  'request - max ends the wait early; broadcast gives no reply channel': async (t, { transport }) => {
    const root = unique('ctl')
    const seen = new Inbox<boolean>()
    transport.subscribe(`${root}.cmd`, (_subject, _data, reply) => {
      seen.push(reply !== undefined)
      reply?.(bytes('pong'))
    })
    const started = Date.now()
    const replies = await transport.request(`${root}.cmd`, bytes('ping'), { timeoutMs: 10_000, max: 1 })
    t.same(replies.map((r) => decoder.decode(r)), ['pong'])
    t.ok(Date.now() - started < 5_000, 'did not wait for the timeout')
    transport.broadcast(`${root}.cmd`, bytes('plain'))
    t.same(await seen.until(2), [true, false])
    t.throws(() => transport.request(`${root}.cmd`, bytes('x'), { timeoutMs: 0 }), { message: 'options.timeoutMs must be a positive finite number' })
    t.throws(() => transport.request(`${root}.cmd`, bytes('x'), { timeoutMs: 10, max: 0 }), { message: 'options.max must be a positive integer' })
  },

  'request - a subscriber on another connection replies': async (t, context) => {
    const second = secondOrSkip(t, context)
    if (!second) return
    const other = await second()
    t.teardown(() => other.close())
    const root = unique('ctl')
    await other.subscribe(`${root}.cmd`, (_subject, data, reply) => reply?.(bytes(`other:${decoder.decode(data)}`))).ready
    const replies = await context.transport.request(`${root}.cmd`, bytes('hi'), { timeoutMs: 5_000, max: 1 })
    t.same(replies.map((r) => decoder.decode(r)), ['other:hi'])
  },

  'close - stored messages survive closing the connection': async (t, context) => {
    const { transport } = context
    const second = secondOrSkip(t, context)
    if (!second) return
    const queue = await queueWith(transport)
    await transport.publish(direct(queue, 'kept-1'))
    await transport.publish(direct(queue, 'kept-2'))
    await transport.close()
    const other = await second()
    t.teardown(() => other.close())
    await other.declareQueue({ name: queue })
    const inbox = new Inbox<Delivery>()
    other.consume(queue, inbox.push).pull(10)
    const deliveries = await inbox.until(2)
    t.same(deliveries.map(text), ['kept-1', 'kept-2'])
    for (const d of deliveries) d.ack()
  },
}

/** Names of every test in the suite, for `skip` lists. */
export const transportSuiteTests: readonly string[] = Object.keys(cases)

/**
 * Runs the Transport conformance suite as a subtest of `t`.
 * @example
 * await runTransportSuite(t, {
 *   name: 'memory',
 *   create: async () => ({ transport: new MemoryTransport({ broker: new MemoryBroker() }) }),
 * })
 */
export function runTransportSuite(t: Test, options: TransportSuiteOptions): Promise<void> {
  const reasons = new Map<string, string>()
  for (const group of options.skip ?? []) {
    for (const name of group.tests) {
      if (!(name in cases)) throw new Error(`skip names an unknown test: ${name}`)
      reasons.set(name, group.reason)
    }
  }
  return t.test(`transport conformance: ${options.name}`, async (t) => {
    for (const [name, body] of Object.entries(cases)) {
      const reason = reasons.get(name)
      if (reason !== undefined) {
        t.test(name, { skip: reason }, async () => {})
        continue
      }
      t.test(name, async (t) => {
        const context = await options.create()
        t.teardown(async () => {
          await context.transport.close()
          await context.cleanup?.()
        })
        await body(t, context)
      })
    }
  }) as unknown as Promise<void>
}
