import t from 'tap'
import { SerializationError } from '../../src/errors.js'
import { decodeHeaders, decodeMessage, encodeMessage } from '../../src/protocol/envelope.js'
import type { TaskHeaders, TaskMessage } from '../../src/protocol/envelope.js'
import { jsonCodec, msgpackCodec } from '../../src/serialization/codec.js'

const minimal: TaskHeaders = { id: 'id-1', task: 't.add', retries: 0, rootId: 'id-1', contentType: 'application/x-msgpack' }
const body = msgpackCodec.encode([[1, 2], null])

const full: TaskHeaders = {
  id: 'id-2',
  task: 'feed.import',
  retries: 3,
  rootId: 'root',
  parentId: 'parent',
  groupId: 'group',
  eta: Date.UTC(2026, 0, 1),
  expires: Date.UTC(2026, 0, 2),
  timeLimit: [1000, null],
  origin: '123@host',
  ignoreResult: true,
  priority: 9,
  contentType: 'application/json',
  headers: { tenant: 'acme', attempt: 1 },
  callbacks: [{ task: 't.log', args: [1], kwargs: {}, options: { queue: 'q' }, immutable: false }],
  errbacks: [{ task: 't.err', args: [], kwargs: { k: 1 }, options: {}, immutable: true }],
  chain: [{ subtaskType: 'chain', tasks: [{ task: 't.next', args: [], kwargs: {}, options: { taskId: 'n1' }, immutable: false }], options: {} }],
  chord: { id: 'c1', index: 3, size: 10 },
}

const malformed = (message: string) => new SerializationError(`malformed task message: ${message}`)
const undecodable = (message: string) => new SerializationError(`undecodable task message: ${message}`)

/** A frame built by hand: version byte, headers length, headers bytes, body. */
function raw(version: number, headerBytes: Uint8Array, bodyBytes: Uint8Array = body, length = headerBytes.byteLength): Uint8Array {
  const out = new Uint8Array(5 + headerBytes.byteLength + bodyBytes.byteLength)
  out[0] = version
  new DataView(out.buffer).setUint32(1, length)
  out.set(headerBytes, 5)
  out.set(bodyBytes, 5 + headerBytes.byteLength)
  return out
}

t.test('envelope - undecodable bytes', async (t) => {
  t.throws(() => decodeMessage(new Uint8Array(0)), undecodable('0 bytes is too short for a frame'), 'no bytes at all')
  t.throws(() => decodeMessage(new Uint8Array([2, 0, 0])), undecodable('3 bytes is too short for a frame'))
  t.throws(() => decodeMessage(raw(2, new Uint8Array([0x93, 0x01]), new Uint8Array(0), 40)), undecodable('headers of 40 bytes overrun a frame of 7'))
  const error = t.throws(() => decodeMessage(raw(2, new Uint8Array([0x93, 0x01]), new Uint8Array(0)))) as SerializationError
  t.equal(error.message, 'undecodable task message: cannot decode msgpack bytes: Unexpected end of MessagePack data')
  t.ok(error.cause instanceof SerializationError, 'the codec error is the cause')
})

t.test('envelope - a wrong frame', async (t) => {
  t.throws(() => decodeMessage(new TextEncoder().encode('hello')), malformed('expected a version 2 frame, got a first byte of 104'), 'text')
  t.throws(() => decodeMessage(msgpackCodec.encode([1, minimal, body])), malformed('expected a version 2 frame, got a first byte of 147'), 'a version 1 frame')
  t.throws(() => decodeMessage(raw(1, msgpackCodec.encode([]))), malformed('expected a version 2 frame, got a first byte of 1'))
  t.throws(() => decodeMessage(raw(2, msgpackCodec.encode(minimal))), malformed('headers must be a tuple'), 'headers as an object')
  t.throws(() => decodeMessage(raw(2, msgpackCodec.encode('headers'))), malformed('headers must be a tuple'))
})

t.test('envelope - bad headers name the field', async (t) => {
  const withHeaders = (headers: unknown) => () => decodeMessage(encodeMessage({ headers: headers as TaskHeaders, body }))
  const id = 'a non-empty string of at most 256 characters'
  const bad: [Record<string, unknown>, string][] = [
    [{ id: undefined }, `headers.id must be ${id}, got undefined`],
    [{ id: '' }, `headers.id must be ${id}, got ""`],
    [{ id: 7 }, `headers.id must be ${id}, got 7`],
    [{ task: undefined }, 'headers.task must be a non-empty string of at most 256 characters, got undefined'],
    [{ task: '' }, 'headers.task must be a non-empty string of at most 256 characters, got ""'],
    [{ retries: -1 }, 'headers.retries must be a non-negative integer of at most 1000000, got -1'],
    [{ retries: 1.5 }, 'headers.retries must be a non-negative integer of at most 1000000, got 1.5'],
    [{ retries: '0' }, 'headers.retries must be a non-negative integer of at most 1000000, got "0"'],
    [{ retries: undefined }, 'headers.retries must be a non-negative integer of at most 1000000, got undefined'],
    [{ rootId: undefined }, 'headers.rootId must be a string of at most 256 characters, got undefined'],
    [{ rootId: 1 }, 'headers.rootId must be a string of at most 256 characters, got 1'],
    [{ eta: '2026-01-01' }, 'headers.eta must be epoch milliseconds from 0 to 7258118400000 (the year 2200), got "2026-01-01"'],
    [{ expires: new Date(0) }, 'headers.expires must be epoch milliseconds from 0 to 7258118400000 (the year 2200), got a Date'],
    [{ contentType: 'application/x-pickle' }, 'headers.contentType must be application/x-msgpack or application/json, got "application/x-pickle"'],
    [{ contentType: undefined }, 'headers.contentType must be application/x-msgpack or application/json, got undefined'],
  ]
  for (const [change, message] of bad) {
    const headers: Record<string, unknown> = { ...minimal, ...change }
    for (const key of Object.keys(headers)) if (headers[key] === undefined) delete headers[key]
    t.throws(withHeaders(headers), new SerializationError(`invalid message: ${message}`), message)
  }
  t.doesNotThrow(withHeaders({ ...minimal, rootId: '' }), 'an empty rootId is accepted')
  // What the worker's "dead-lettered a message" line names the message by.
  const named = (headers: Record<string, unknown>) => {
    try {
      withHeaders(headers)()
    } catch (error) {
      return (error as { task?: unknown }).task
    }
    return 'no error'
  }
  t.same(named({ ...minimal, expires: 1e300 }), { id: minimal.id, task: minimal.task }, 'the id and name, when they passed')
  t.same(named({ ...minimal, task: '' }), { id: minimal.id }, 'the id alone when the name is the bad field')
  t.equal(named({ ...minimal, id: '' }), undefined, 'nothing when the id is the bad field')
})

t.test('envelope - decodeHeaders reads the headers alone', async (t) => {
  t.same(decodeHeaders(encodeMessage({ headers: full, body })), full)
})

t.test('envelope - plain headers read the same in every scalar encoding', async (t) => {
  // Plain headers (strings, numbers, booleans) are read without msgpackr: each msgpack form of
  // a scalar, and the strings that send the tuple back to msgpackr, must read as sent.
  const round = (headers: TaskHeaders) => decodeHeaders(encodeMessage({ headers, body }))
  const id = '0b6b3a2e-7d3c-4c1e-9a0f-5e2d8c7b6a41'
  const variants: TaskHeaders[] = [
    { ...minimal, id, rootId: id, origin: '4242@worker-1.example' },
    ...[0, 127, 128, 255, 256, 65_535, 65_536, 1_000_000].map((retries) => ({ ...minimal, retries })),
    { ...minimal, eta: Date.UTC(2026, 11, 7, 1, 2, 3, 4), expires: Date.UTC(2030, 0, 1) + 0.5, priority: 7, ignoreResult: false },
    { ...minimal, ignoreResult: true, priority: 0, eta: 0 },
    { ...minimal, task: 'x'.repeat(31), rootId: 'r'.repeat(32) },
    { ...minimal, task: 't'.repeat(256), id: 'i'.repeat(255) }, // str16: msgpackr
    { ...minimal, task: 'tâche.é', origin: 'ü@host' }, // not ASCII: msgpackr
    { ...minimal, contentType: 'application/json', replyTo: 'celeriac.rpc-reply.abc' },
  ]
  for (const headers of variants) t.strictSame(round(headers), headers, JSON.stringify(headers).slice(0, 80))
  // A tuple cut short, or one followed by a stray byte, is not read as plain headers either.
  const tuple = msgpackCodec.encode(['id', 't', 0, 'id', null, null, null, null, null, null, null, null, 'application/x-msgpack'])
  t.throws(() => decodeHeaders(raw(2, tuple.subarray(0, tuple.byteLength - 3))), { name: 'SerializationError', message: /^undecodable task message/ })
  t.throws(() => decodeHeaders(raw(2, new Uint8Array([...tuple, 0xc0]))), { name: 'SerializationError', message: /^undecodable task message/ })
})

t.test('envelope - plain headers are framed byte for byte as msgpackr frames them', async (t) => {
  // The wire order of the header tuple (version 2 frames), trailing nils left out.
  const order = ['id', 'task', 'retries', 'rootId', 'parentId', 'groupId', 'eta', 'expires', 'timeLimit', 'origin', 'ignoreResult', 'priority', 'contentType', 'headers', 'callbacks', 'errbacks', 'chain', 'chord', 'replyTo'] as const
  const tupleOf = (h: TaskHeaders) => {
    const tuple = order.map((k) => h[k] ?? null)
    while (tuple.length > 0 && tuple.at(-1) === null) tuple.pop()
    return tuple
  }
  const strings = ['', 'a', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(255), '0b6b3a2e-7d3c-4c1e-9a0f-5e2d8c7b6a41']
  const numbers = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Date.UTC(2026, 11, 7), 1.5, -1, -32]
  let checked = 0
  for (const text of strings) {
    for (const number of numbers) {
      const headers: TaskHeaders = { ...minimal, id: text || 'i', task: `t${text}`, rootId: text, retries: number, eta: number, priority: number % 10, ignoreResult: number > 1000, origin: text }
      if (text.length === 255) headers.replyTo = 'reply.subject'
      const frame = encodeMessage({ headers, body })
      const length = new DataView(frame.buffer, frame.byteOffset).getUint32(1)
      t.same(Buffer.from(frame.subarray(5, 5 + length)), Buffer.from(msgpackCodec.encode(tupleOf(headers))), `retries ${number}, strings of ${text.length}`)
      t.same(Buffer.from(frame.subarray(5 + length)), Buffer.from(body))
      checked++
    }
  }
  t.equal(checked, strings.length * numbers.length)
})

t.test('envelope - the schema accepts every valid extreme', async (t) => {
  const round = (headers: TaskHeaders) => decodeHeaders(encodeMessage({ headers, body }))
  const edge: TaskHeaders = {
    ...minimal,
    id: 'i'.repeat(256),
    task: 't'.repeat(256),
    retries: 1_000_000,
    rootId: '',
    eta: 0,
    expires: Date.UTC(2200, 0, 1),
    timeLimit: [0, 2_147_483_647],
    priority: 0,
    ignoreResult: false,
    headers: Object.create(null) as Record<string, unknown>,
    chord: { id: 'c', index: 9, size: 10 },
    replyTo: 'celeriac.rpc-reply.0b6b3a2e-7d3c',
    callbacks: [{ subtaskType: 'chord', header: [{ task: 'a', args: [] } as never], body: { task: 'b', args: [], options: { link: { task: 'c', args: [] } } } as never, options: {} }],
  }
  t.same(round(edge), { ...edge, headers: {} })
  t.same(round({ ...minimal, timeLimit: [null, null], priority: 9 }).timeLimit, [null, null])
})

t.test('envelope - signature options are checked down to their callbacks', async (t) => {
  const withHeaders = (change: Partial<TaskHeaders>) => () => decodeHeaders(encodeMessage({ headers: { ...minimal, ...change }, body }))
  t.throws(withHeaders({ callbacks: [{ task: 'a', args: [], options: { link: [{ task: '', args: [] }] } } as never] }),
    new SerializationError('invalid message: headers.callbacks[0].options.link[0].task must be a non-empty string of at most 256 characters, got ""'))
  t.throws(withHeaders({ callbacks: [{ task: 'a', args: [], options: { taskId: 'x'.repeat(300) } } as never] }),
    new SerializationError('invalid message: headers.callbacks[0].options.taskId must be a non-empty string of at most 256 characters, got a string of 300 characters'))
  t.throws(withHeaders({ errbacks: [{ subtaskType: 'map', tasks: [] } as never] }),
    new SerializationError('invalid message: headers.errbacks[0].subtaskType must be chain, group, chord or absent, got "map"'))
  t.throws(withHeaders({ chord: { id: 'c', index: 0, size: 0 } }), new SerializationError('invalid message: headers.chord.size must be a positive integer, got 0'))
  t.throws(withHeaders({ replyTo: 'a..b' }), { message: /^invalid message: headers\.replyTo must be a reply subject .*, got "a\.\.b"$/ })
  t.throws(withHeaders({ replyTo: 'a\u0000b' }), { message: /^invalid message: headers\.replyTo must be a reply subject/ })
  // Hostile-input audit: a sender named the results bucket's key of another task as its
  // replyTo, and the worker wrote its record there, forging that task's result.
  for (const replyTo of ['$KV.celeriac-results.victim', '$JS.API.STREAM.DELETE.CELERIAC-Q-CELERY', '$O.x.y', '_kvr.celeriac-results.x', 'celeriac.bus.events.task.received', 'celeriac.q.celery', 'shop.dlq.mail']) {
    t.throws(withHeaders({ replyTo }), { message: /^invalid message: headers\.replyTo must be a reply subject .*not a \$ subject of JetStream or KV, nor a queue, dead-letter or bus subject/ }, replyTo)
  }
  for (const replyTo of ['_INBOX.abc', '_INBOX.alice.def', 'celeriac.rpc-reply.abc', 'my.inbox.x']) t.doesNotThrow(withHeaders({ replyTo }), replyTo)
})
