import fc from 'fast-check'
import t from 'tap'
import { jsonCodec, msgpackCodec } from '../../src/serialization/codec.js'

// Exact equality: same prototypes, same keys, numbers compared with Object.is (NaN equals NaN).
// A reference written out here rather than a library's deep-equal, which is loose about types.
function exactlyEqual(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false
  if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b)
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime())
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<number>
    const y = b as unknown as ArrayLike<number>
    return x.length === y.length && Array.from(x).every((v, i) => Object.is(v, y[i]))
  }
  const keysA = Object.keys(a)
  const keysB = Object.keys(b as object)
  if (keysA.length !== keysB.length) return false
  return keysA.every((key, i) => key === keysB[i] && exactlyEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
}

// msgpack has one zero: -0 comes back as 0 outside typed arrays (a known msgpack limit).
const number = fc.oneof(fc.integer(), fc.double().map((x) => (Object.is(x, -0) ? 0 : x)), fc.constantFrom(2 ** 53 - 1, -(2 ** 53), 2 ** 32, -(2 ** 31) - 1))
// msgpackr renames a `__proto__` key (prototype pollution guard); it is not data a task sends.
const key = fc.string({ unit: 'binary', maxLength: 8 }).filter((k) => k !== '__proto__')
const leaf = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  number,
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.date(),
  fc.uint8Array({ maxLength: 16 }),
  fc.float64Array({ maxLength: 8 }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
)
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  ),
}))

t.test('codec property - msgpack round trips nested data exactly', async (t) => {
  fc.assert(
    fc.property(value, (v) => exactlyEqual(msgpackCodec.decode(msgpackCodec.encode(v)), v)),
    { numRuns: 500 },
  )
  t.pass('500 random values')
})

t.test('codec property - task arguments round trip as [args, kwargs]', async (t) => {
  fc.assert(
    fc.property(fc.array(value, { maxLength: 4 }), fc.option(fc.dictionary(key, value, { maxKeys: 3, noNullPrototype: true }), { nil: null }), (args, kwargs) =>
      exactlyEqual(msgpackCodec.decode(msgpackCodec.encode([args, kwargs])), [args, kwargs]),
    ),
    { numRuns: 200 },
  )
  t.pass('200 random calls')
})

t.test('codec property - json round trips JSON values', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => exactlyEqual(jsonCodec.decode(jsonCodec.encode(v)), JSON.parse(JSON.stringify(v)))),
    { numRuns: 300 },
  )
  t.pass('300 random JSON values')
})

t.test('codec property - exactlyEqual tells apart what it must', async (t) => {
  t.notOk(exactlyEqual(new Uint8Array([1]), [1]))
  t.notOk(exactlyEqual({ a: 1 }, { a: 1, b: undefined }))
  t.notOk(exactlyEqual(0, -0))
  t.notOk(exactlyEqual(new Date(0), new Date(1)))
  t.notOk(exactlyEqual(new Float64Array([1]), new Float32Array([1])))
  t.notOk(exactlyEqual(1n, 1))
  t.ok(exactlyEqual(NaN, NaN))
  t.ok(exactlyEqual(new Date(NaN), new Date(NaN)))
})
