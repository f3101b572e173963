import t from 'tap'
import { SerializationError } from '../../src/errors.js'
import { ContentType, assertSerializable, codecByName, codecFor, jsonCodec, msgpackCodec, ownBytes } from '../../src/serialization/codec.js'

const msgpack = (value: unknown) => msgpackCodec.decode(msgpackCodec.encode(value))
const json = (value: unknown) => jsonCodec.decode(jsonCodec.encode(value))

t.test('codec - msgpack round trips plain data', async (t) => {
  const value = { n: 1, f: -2.5, s: 'héllo ✓', b: true, z: null, list: [1, 'two', [3], { four: 4 }], nested: { a: { b: { c: [] } } } }
  t.strictSame(msgpack(value), value)
  for (const scalar of [0, -1, 2 ** 31, 2 ** 53 - 1, -(2 ** 53), 1e-300, 'x', '', true, false, null]) t.equal(msgpack(scalar), scalar, String(scalar))
  t.ok(Number.isNaN(msgpack(NaN)))
  t.equal(msgpack(Infinity), Infinity)
  t.equal(msgpack(-Infinity), -Infinity)
})

t.test('codec - msgpack keeps Dates, typed arrays, Sets, BigInts and undefined', async (t) => {
  const date = msgpack(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))
  t.ok(date instanceof Date)
  t.equal((date as Date).getTime(), Date.UTC(2026, 0, 2, 3, 4, 5, 6))
  const bytes = msgpack(new Uint8Array([0, 1, 255]))
  t.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype, 'a Uint8Array, not a Buffer')
  t.same([...(bytes as Uint8Array)], [0, 1, 255])
  const floats = msgpack(new Float64Array([1.5, -0, NaN]))
  t.ok(floats instanceof Float64Array)
  t.ok(Object.is((floats as Float64Array)[1], -0), '-0 inside a Float64Array')
  t.ok(Number.isNaN((floats as Float64Array)[2]))
  t.ok(msgpack(new Int32Array([-1, 7])) instanceof Int32Array)
  const set = msgpack(new Set([1, 'a']))
  t.ok(set instanceof Set)
  t.same([...(set as Set<unknown>)], [1, 'a'])
  t.equal(msgpack(10n), 10n)
  t.equal(msgpack(-(2n ** 63n)), -(2n ** 63n))
  t.equal(msgpack(2n ** 64n - 1n), 2n ** 64n - 1n)
  t.strictSame(msgpack([undefined, 1]), [undefined, 1])
  t.strictSame(msgpack({ a: undefined }), { a: undefined })
})

t.test('codec - msgpack delivers a Map as a plain object (documented)', async (t) => {
  const map = msgpack(new Map<unknown, unknown>([[1, 'one'], ['k', { v: 2 }]]))
  t.same(map, { 1: 'one', k: { v: 2 } })
})

t.test('codec - msgpack errors are SerializationErrors with a cause', async (t) => {
  t.throws(() => msgpackCodec.decode(new Uint8Array([0x92, 0x01])), new SerializationError('cannot decode msgpack bytes: Unexpected end of MessagePack data'))
  const circular: Record<string, unknown> = {}
  circular.self = circular
  const error = t.throws(() => msgpackCodec.encode(circular), { name: 'SerializationError', code: 'ERR_SERIALIZATION' }) as SerializationError
  t.match(error.message, /^cannot encode value as msgpack: /)
  t.ok(error.cause instanceof Error)
})

t.test('codec - json round trips JSON data, Dates become ISO strings', async (t) => {
  const value = { n: 1, f: 2.5, s: 'héllo ✓', b: false, z: null, list: [1, [2], { three: 3 }] }
  t.strictSame(json(value), value)
  t.strictSame(json({ at: new Date(0) }), { at: '1970-01-01T00:00:00.000Z' })
  t.equal(json(undefined), null, 'undefined encodes as null')
  t.same(new TextDecoder().decode(jsonCodec.encode({ a: [1] })), '{"a":[1]}')
})

t.test('codec - json errors are SerializationErrors', async (t) => {
  t.throws(() => jsonCodec.encode(10n), new SerializationError('cannot encode value as JSON: Do not know how to serialize a BigInt'))
  t.throws(() => jsonCodec.decode(new TextEncoder().encode('{')), { name: 'SerializationError', message: /^cannot decode JSON bytes: / })
  t.throws(() => jsonCodec.decode(new Uint8Array([0xff])), new SerializationError('cannot decode JSON bytes: The encoded data was not valid for encoding utf-8'))
})

t.test('codec - content types and names pick codecs', async (t) => {
  t.equal(msgpackCodec.contentType, 'application/x-msgpack')
  t.equal(jsonCodec.contentType, 'application/json')
  t.equal(codecFor(ContentType.Msgpack), msgpackCodec)
  t.equal(codecFor('application/json'), jsonCodec)
  t.equal(codecByName('msgpack'), msgpackCodec)
  t.equal(codecByName('json'), jsonCodec)
  t.throws(() => codecFor('application/x-pickle'), new SerializationError('unsupported content type "application/x-pickle"'))
  t.throws(() => codecFor(''), new SerializationError('unsupported content type ""'))
})

t.test('codec - assertSerializable accepts data', async (t) => {
  const shared = { s: 1 }
  const ok = [
    1, 'a', null, undefined, true, 10n, new Date(0), new Uint8Array(2), new Float64Array(1), new Error('e'),
    [shared, shared], { a: [shared], b: shared }, new Map([['k', 1]]), new Set([1]),
  ]
  for (const value of ok) t.doesNotThrow(() => assertSerializable(value, 'args'))
})

t.test('codec - a value nested past the stack is a SerializationError, not a RangeError (hostile-input audit)', async (t) => {
  let deep: unknown = 1
  for (let i = 0; i < 200_000; i++) deep = [deep]
  t.throws(() => assertSerializable(deep, 'args'), { name: 'SerializationError', message: /^args is nested too deeply to be sent: / })
})

t.test('codec - assertSerializable names the path of what cannot be sent', async (t) => {
  const bad = (value: unknown, message: string) => t.throws(() => assertSerializable(value, 'args'), new SerializationError(message), message)
  bad(() => 1, 'args is a function and cannot be serialized')
  bad(Symbol('s'), 'args is a symbol and cannot be serialized')
  bad([{ a: { b: () => 1 } }], 'args[0].a.b is a function and cannot be serialized')
  bad([1, [2, Symbol.iterator]], 'args[1][1] is a symbol and cannot be serialized')
  bad({ m: new Map([['key', () => 1]]) }, 'args.m.key is a function and cannot be serialized')
  bad({ s: new Set([1, Symbol('x')]) }, 'args.s[1] is a symbol and cannot be serialized')
  const circular: Record<string, unknown> = { a: 1 }
  circular.self = circular
  bad([circular], 'args[0].self is a circular reference and cannot be serialized')
  const deep: { child?: unknown } = {}
  deep.child = { list: [deep] }
  bad(deep, 'args.child.list[0] is a circular reference and cannot be serialized')
  t.throws(() => assertSerializable({ fn: () => 1 }, 't.add kwargs'), new SerializationError('t.add kwargs.fn is a function and cannot be serialized'))
  // What toJSON() returns stands in the instance's place: its path, and the instance as an ancestor.
  class Wrapped {
    constructor(readonly inner: unknown) {}
    toJSON() {
      return { inner: this.inner }
    }
  }
  bad([new Wrapped(() => 1)], 'args[0].inner is a function and cannot be serialized')
  const loop: { back?: unknown } = {}
  loop.back = new Wrapped(loop)
  bad(loop, 'args.back.inner is a circular reference and cannot be serialized')
  class Selfish {
    toJSON() {
      return [this]
    }
  }
  bad({ s: new Selfish() }, 'args.s[0] is a circular reference and cannot be serialized')
  t.doesNotThrow(() => assertSerializable([new Wrapped([1, 'two', { three: 3 }])], 'args'), 'a toJSON() that returns plain data is fine')
})

t.test('codec - ownBytes copies views and keeps whole buffers', async (t) => {
  const whole = new Uint8Array([1, 2, 3])
  t.equal(ownBytes(whole), whole, 'a buffer of its own is kept')
  const backing = new Uint8Array([9, 1, 2, 3, 9])
  const view = backing.subarray(1, 4)
  const own = ownBytes(view)
  t.not(own, view)
  t.same([...own], [1, 2, 3])
  t.equal(own.byteOffset, 0)
  t.equal(own.buffer.byteLength, 3)
  backing[1] = 0
  t.equal(own[0], 1, 'not shared with the view')
  const encoded = msgpackCodec.encode({ a: 1 })
  const owned = ownBytes(encoded)
  t.equal(owned.buffer.byteLength, owned.byteLength, 'msgpack output gets a buffer of its own')
  t.strictSame(msgpackCodec.decode(owned), { a: 1 })
  t.equal(ownBytes(backing.subarray(0, 0)).byteLength, 0)
})

t.test('codec - msgpack carries Errors whole: class, name, code, message, data, stack, cause (issue 18)', async (t) => {
  const { InvalidArgumentError, RemoteError } = await import('../../src/errors.js')
  class PaymentDeclined extends Error {
    override name = 'PaymentDeclined'
    code = 'E_DECLINED'
  }
  const own = msgpack(new InvalidArgumentError('bad', { data: { field: 'x' } })) as InstanceType<typeof InvalidArgumentError>
  t.ok(own instanceof InvalidArgumentError, "celeriac's own errors come back as their class")
  t.same([own.message, own.code, own.data], ['bad', 'ERR_INVALID_ARGUMENT', { field: 'x' }])
  const original = new PaymentDeclined('no funds', { cause: new TypeError('inner') })
  const yours = msgpack([{ error: original }]) as [{ error: InstanceType<typeof RemoteError> }]
  t.ok(yours[0].error instanceof RemoteError, 'any other class as RemoteError')
  t.same([yours[0].error.name, yours[0].error.code, yours[0].error.message, yours[0].error.stack], ['PaymentDeclined', 'E_DECLINED', 'no funds', original.stack])
  t.match(yours[0].error.cause, { name: 'TypeError', message: 'inner' })
  // The extension's payload from elsewhere is checked: anything else is a SerializationError.
  const forged = new Uint8Array([0xd4, 0x45, 0x07])
  t.throws(() => msgpackCodec.decode(forged), { name: 'SerializationError' })
})
