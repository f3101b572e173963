import t from 'tap'
import { SerializationError } from '../../src/errors.js'
import { decodeMessage, encodeMessage } from '../../src/protocol/envelope.js'
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
  errbacks: [{ task: 't.err', args: [], kwargs: { k: 1 }, options: {}, immutable: true, subtaskType: 'chain' }],
}

const frame = (value: unknown) => msgpackCodec.encode(value)
const malformed = (message: string) => new SerializationError(`malformed task message: ${message}`)

t.test('envelope - a message round trips with minimal headers', async (t) => {
  const decoded = decodeMessage(encodeMessage({ headers: minimal, body }))
  t.strictSame(decoded.headers, minimal)
  t.same([...decoded.body], [...body])
  t.strictSame(msgpackCodec.decode(decoded.body), [[1, 2], null])
})

t.test('envelope - a message round trips with every header', async (t) => {
  const jsonBody = jsonCodec.encode([['a'], { k: 1 }])
  const decoded = decodeMessage(encodeMessage({ headers: full, body: jsonBody }))
  t.strictSame(decoded.headers, full)
  t.strictSame(jsonCodec.decode(decoded.body), [['a'], { k: 1 }])
})

t.test('envelope - the body stays bytes, whatever they hold', async (t) => {
  const bytes = new Uint8Array([0, 0xc1, 0xff, 0x92])
  const message: TaskMessage = { headers: minimal, body: bytes }
  t.same([...decodeMessage(encodeMessage(message)).body], [0, 0xc1, 0xff, 0x92])
  t.equal(decodeMessage(encodeMessage({ headers: minimal, body: new Uint8Array(0) })).body.byteLength, 0)
})

t.test('envelope - undecodable bytes', async (t) => {
  t.throws(() => decodeMessage(new Uint8Array([0x93, 0x01])), new SerializationError('undecodable task message: cannot decode msgpack bytes: Unexpected end of MessagePack data'))
  t.throws(() => decodeMessage(new Uint8Array(0)), new SerializationError('undecodable task message: cannot decode msgpack bytes: Unexpected end of MessagePack data'), 'no bytes at all')
  t.throws(() => decodeMessage(new TextEncoder().encode('hello')), new SerializationError('undecodable task message: cannot decode msgpack bytes: Data read, but end of buffer not reached 104'), 'text')
  const error = t.throws(() => decodeMessage(new Uint8Array([0x93, 0x01]))) as SerializationError
  t.ok(error.cause instanceof SerializationError, 'the codec error is the cause')
})

t.test('envelope - a wrong frame', async (t) => {
  const wrongFrame = malformed('expected a version 1 frame [1, headers, body]')
  t.throws(() => decodeMessage(new Uint8Array([42])), wrongFrame, 'bytes that decode to a number')
  t.throws(() => decodeMessage(new Uint8Array([0xc1])), wrongFrame, 'a reserved msgpack byte')
  t.throws(() => decodeMessage(frame({ headers: minimal, body })), wrongFrame, 'an object')
  t.throws(() => decodeMessage(frame([1, minimal])), wrongFrame, 'two elements')
  t.throws(() => decodeMessage(frame([1, minimal, body, 'extra'])), wrongFrame, 'four elements')
  t.throws(() => decodeMessage(frame([2, minimal, body])), wrongFrame, 'version 2')
  t.throws(() => decodeMessage(frame(['1', minimal, body])), wrongFrame, 'a version string')
  t.throws(() => decodeMessage(frame([1, minimal, 'body'])), malformed('body is not binary'))
  t.throws(() => decodeMessage(frame([1, minimal, [1, 2]])), malformed('body is not binary'))
})

t.test('envelope - bad headers name the field', async (t) => {
  const withHeaders = (headers: unknown) => () => decodeMessage(frame([1, headers, body]))
  const bad: [Record<string, unknown>, string][] = [
    [{ id: undefined }, 'headers.id must be a non-empty string'],
    [{ id: '' }, 'headers.id must be a non-empty string'],
    [{ id: 7 }, 'headers.id must be a non-empty string'],
    [{ task: undefined }, 'headers.task must be a non-empty string'],
    [{ task: '' }, 'headers.task must be a non-empty string'],
    [{ retries: -1 }, 'headers.retries must be a non-negative integer'],
    [{ retries: 1.5 }, 'headers.retries must be a non-negative integer'],
    [{ retries: '0' }, 'headers.retries must be a non-negative integer'],
    [{ retries: undefined }, 'headers.retries must be a non-negative integer'],
    [{ rootId: undefined }, 'headers.rootId must be a string'],
    [{ rootId: 1 }, 'headers.rootId must be a string'],
    [{ eta: '2026-01-01' }, 'headers.eta must be epoch milliseconds'],
    [{ expires: new Date(0) }, 'headers.expires must be epoch milliseconds'],
    [{ contentType: 'application/x-pickle' }, 'headers.contentType must be application/x-msgpack or application/json'],
    [{ contentType: undefined }, 'headers.contentType must be application/x-msgpack or application/json'],
  ]
  for (const [change, message] of bad) {
    const headers: Record<string, unknown> = { ...minimal, ...change }
    for (const key of Object.keys(headers)) if (headers[key] === undefined) delete headers[key]
    t.throws(withHeaders(headers), malformed(message), message)
  }
  t.doesNotThrow(withHeaders({ ...minimal, rootId: '' }), 'an empty rootId is accepted')
})

t.test('envelope - headers that are not an object', async (t) => {
  for (const headers of [null, 'headers', 42, true]) {
    t.throws(() => decodeMessage(frame([1, headers, body])), { name: 'SerializationError', message: /^malformed task message: headers/ }, String(headers))
  }
  t.throws(() => decodeMessage(frame([1, null, body])), malformed('headers must be an object'), 'exact message')
})
