// Hostile-input audit, defect 3: one malformed message on the event bus (a msgpack nil, an
// object without a string `type`) ended every event stream, so the dashboard stopped ingesting
// and `celeriac events` exited. The stream now skips it and warns at most once a minute.
import t, { type Test } from 'tap'
import { subscribeEvents } from '../../src/events/event-stream.js'
import { eventSubject, type CeleriacEvent } from '../../src/events/events.js'
import { msgpackCodec } from '../../src/serialization/codec.js'
import { MemoryBroker } from '../../src/transport/memory/memory-broker.js'
import { MemoryTransport } from '../../src/transport/memory/memory-transport.js'
import { SimulatedClock } from '../../src/util/clock.js'
import type { Logger } from '../../src/util/logger.js'

const START = Date.UTC(2026, 0, 1)
const RECEIVED = eventSubject('task-received')

function setup(t: Test) {
  const clock = new SimulatedClock(START)
  const transport = new MemoryTransport({ broker: new MemoryBroker(), clock })
  const warnings: string[] = []
  const logger: Logger = { debug() {}, info() {}, warn: (message) => void warnings.push(message), error() {} }
  const stream = subscribeEvents(Promise.resolve(transport), '*', logger, clock)
  t.teardown(() => {
    stream.close()
    return transport.close()
  })
  return { clock, transport, warnings, stream }
}

const received = (uuid: string): CeleriacEvent => ({ type: 'task-received', uuid, name: 't.add', retries: 0, rootId: uuid, hostname: 'w1@h', timestamp: START })

/** Messages the stream must skip, each with the reason its warning names. */
const MALFORMED: [shape: string, data: Uint8Array, reason: string][] = [
  ['a msgpack nil', new Uint8Array([0xc0]), 'not an object, got null'],
  ['bytes msgpack cannot decode', new Uint8Array([0x92, 0x01]), 'undecodable (cannot decode msgpack bytes: Unexpected end of MessagePack data)'],
  ['no type', msgpackCodec.encode({ uuid: 'x', timestamp: START }), 'type must be a string, got undefined'],
  ['a numeric type', msgpackCodec.encode({ type: 7, uuid: 'x', timestamp: START }), 'type must be a string, got 7'],
  ['a task event without uuid', msgpackCodec.encode({ type: 'task-received', hostname: 'h', timestamp: START }), 'uuid of "task-received" must be a string, got undefined'],
  ['a worker event without hostname', msgpackCodec.encode({ type: 'worker-online', timestamp: START }), 'hostname of "worker-online" must be a string, got undefined'],
  ['a task event without timestamp', msgpackCodec.encode({ type: 'task-received', uuid: 'x', hostname: 'h' }), 'timestamp of "task-received" must be epoch milliseconds, got undefined'],
  ['a type of neither family', msgpackCodec.encode({ type: 'other', timestamp: START }), 'type must be task-* or worker-*, got "other"'],
]

t.test('event stream - a malformed event is skipped and the stream goes on with the next', async (t) => {
  for (const [shape, data, reason] of MALFORMED) {
    await t.test(shape, async (t) => {
      const { transport, warnings, stream } = setup(t)
      await stream.ready
      transport.broadcast(RECEIVED, data)
      transport.broadcast(RECEIVED, msgpackCodec.encode(received('after')))
      t.same((await stream.next()).value, received('after'), 'the valid event after it arrives')
      t.equal(warnings.length, 1, 'one warning')
      t.match(warnings[0], `skipped 1 malformed event; the latest: ${reason}`)
    })
  }
})

t.test('event stream - skipped events are warned about at most once a minute, counted', async (t) => {
  const { clock, transport, warnings, stream } = setup(t)
  await stream.ready
  // Delivery is asynchronous: a valid event sent after the bad ones is the latch that they were read.
  let n = 0
  const send = async (...data: Uint8Array[]) => {
    for (const bytes of data) transport.broadcast(RECEIVED, bytes)
    const latch = received(`latch-${++n}`)
    transport.broadcast(RECEIVED, msgpackCodec.encode(latch))
    t.same((await stream.next()).value, latch, 'the stream still yields')
  }
  await send(...MALFORMED.map(([, data]) => data))
  t.same(warnings, ['skipped 1 malformed event; the latest: not an object, got null'], 'the first at once, the rest held back')
  clock.advance(59_000)
  await send(new Uint8Array([0xc0]))
  t.equal(warnings.length, 1, 'none within the minute')
  clock.advance(1_000)
  await send(msgpackCodec.encode({ uuid: 'x' }))
  t.same(warnings.slice(1), [`skipped ${MALFORMED.length + 1} malformed events; the latest: type must be a string, got undefined`], 'then one line counting them')
})
