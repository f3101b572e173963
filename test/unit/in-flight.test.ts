import t from 'tap'
import { InFlight } from '../../src/worker/in-flight.js'
import { DEFAULTS } from '../../src/config/defaults.js'
import { resolveTaskOptions } from '../../src/task/definition.js'
import { TaskState } from '../../src/lifecycle/states.js'
import type { Delivery } from '../../src/transport/transport.js'
import type { TaskHeaders } from '../../src/protocol/envelope.js'
import type { TaskDefinition } from '../../src/task/definition.js'

/** A delivery that lists what was done to it. */
function delivery(): Delivery & { calls: string[] } {
  const calls: string[] = []
  return {
    calls, body: new Uint8Array(), queue: 'q', exchange: '', routingKey: 'q', msgId: undefined, deliveryCount: 1, priority: 0,
    ack: () => void calls.push('ack'),
    nak: (delayMs?: number) => void calls.push(delayMs === undefined ? 'nak' : `nak ${delayMs}`),
    working: () => void calls.push('working'),
    term: (reason: string) => void calls.push(`term ${reason}`),
  }
}

function inFlight(retries = 0) {
  const headers = { id: 'id-1', task: 't.x', retries, rootId: 'id-1', contentType: 'application/x-msgpack' } as TaskHeaders
  const d = delivery()
  const definition = { name: 't.x', fn: () => {}, options: {} } as unknown as TaskDefinition
  return { item: new InFlight(headers, d, definition, resolveTaskOptions('t.x', {}, DEFAULTS)), calls: d.calls }
}

t.test('in flight - a message is settled once: later ack, nak, term are no-ops', async (t) => {
  const { item, calls } = inFlight()
  t.equal(item.ackState, 'open')
  t.equal(item.state, TaskState.PENDING)
  item.working()
  t.equal(item.nak(250), true)
  t.same([item.ack(), item.nak(), item.term('late'), item.ackWhen(undefined)], [false, false, false, false])
  item.working()
  t.same(calls, ['working', 'nak 250'], 'one nak; no lease extension once settled')
  t.equal(item.ackState, 'nakked')
  t.equal(item.settled, true)
})

t.test('in flight - an early-acked task is re-sent once, and only after an ack', async (t) => {
  const { item, calls } = inFlight(2)
  t.equal(item.state, TaskState.RETRY, 'a retried task starts in RETRY')
  let sends = 0
  const send = async () => void sends++
  t.equal(item.resend(send), undefined, 'not while the broker still holds it')
  t.equal(item.ack(), true)
  await item.resend(send)
  t.equal(item.resend(send), undefined)
  t.equal(item.ackWhen(Promise.resolve()), false, 'its outcome acks nothing more')
  t.same([sends, item.ackState, calls], [1, 'resent', ['ack']])
})

t.test('in flight - ackWhen acks once the record is stored, naks if storing failed', async (t) => {
  const stored = inFlight()
  t.equal(stored.item.ackWhen(Promise.resolve()), true)
  t.equal(stored.item.term('after'), false)
  await new Promise(setImmediate)
  t.same(stored.calls, ['ack'])
  const failed = inFlight()
  failed.item.ackWhen(Promise.reject(new Error('backend down')))
  await new Promise(setImmediate)
  t.same(failed.calls, ['nak'], 'runs again rather than being lost')
  const termed = inFlight()
  t.equal(termed.item.term('rejected: no'), true)
  t.same([termed.item.ackState, termed.calls], ['termed', ['term rejected: no']])
})

/** A delivery of message `msgId` that lists what was done to it. */
function copy(msgId: string | undefined, deliveryCount = 2): Delivery & { calls: string[] } {
  return Object.assign(delivery(), { msgId, deliveryCount })
}

t.test('in flight - a redelivered copy of the same message is adopted: the run settles through it (issue 13)', async (t) => {
  const headers = { id: 'id-2', task: 't.x', retries: 0, rootId: 'id-2', contentType: 'application/x-msgpack' } as TaskHeaders
  const definition = { name: 't.x', fn: () => {}, options: {} } as unknown as TaskDefinition
  const first = copy('m-1', 1)
  const item = new InFlight(headers, first, definition, resolveTaskOptions('t.x', {}, DEFAULTS))
  t.equal(item.adopt(copy('m-other')), false, 'another message (a retry is sent under another msgId) is not adopted')
  t.equal(item.adopt(copy(undefined)), false, 'nor one without a msgId')
  const second = copy('m-1')
  t.equal(item.adopt(second), true)
  t.equal(item.delivery, second)
  let store!: () => void
  item.ackWhen(new Promise<void>((resolve) => (store = resolve)))
  // Redelivered again while the outcome is being stored: the pending ack goes to the newest.
  const third = copy('m-1', 3)
  t.equal(item.adopt(third), true)
  store()
  await new Promise((resolve) => setImmediate(resolve))
  t.same([first.calls, second.calls, third.calls], [[], [], ['ack']], 'one ack, on the delivery the broker still honours')
  t.equal(item.adopt(copy('m-1', 4)), true, 'a copy after the ack (the ack was lost) is acked at once')
})

t.test('in flight - while its outcome is being stored, the message keeps its lease (issue 13)', async (t) => {
  const { item, calls } = inFlight()
  let store!: () => void
  item.ackWhen(new Promise<void>((resolve) => (store = resolve)))
  await new Promise((resolve) => setTimeout(resolve, 2_100))
  t.ok(calls.filter((c) => c === 'working').length >= 1, `the lease is renewed while storing: ${calls.join(', ')}`)
  store()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(calls.at(-1), 'ack')
  const after = calls.length
  await new Promise((resolve) => setTimeout(resolve, 1_100))
  t.equal(calls.length, after, 'nothing more once stored')
})
