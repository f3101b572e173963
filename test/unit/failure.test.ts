import t from 'tap'
import * as errors from '../../src/errors.js'
import { CeleriacError, ErrorCode, MaxRetriesExceeded, RemoteError, TimeLimitExceeded, WorkerLostError } from '../../src/errors.js'
import { msgpackCodec } from '../../src/serialization/codec.js'
import { fromWireError, toWireError } from '../../src/serialization/failure.js'
import type { WireError } from '../../src/serialization/failure.js'

// Across a thread or the wire, errors travel as msgpack: check the wire form survives it.
const viaWire = (error: unknown): Error => fromWireError(msgpackCodec.decode(msgpackCodec.encode(toWireError(error))) as WireError)

class ValueError extends Error {
  override name = 'ValueError'
  code = 'E_VALUE'
  data = { field: 'age', limits: [0, 150] }
}

t.test('failure - a user error keeps its class name, code, message, data and stack', async (t) => {
  const original = new ValueError('age out of range')
  const wire = toWireError(original)
  t.strictSame(wire, { type: 'ValueError', code: 'E_VALUE', message: 'age out of range', stack: original.stack, data: { field: 'age', limits: [0, 150] } })
  const back = viaWire(original)
  t.ok(back instanceof RemoteError, 'an unknown class comes back as RemoteError')
  t.ok(back instanceof CeleriacError)
  t.equal(back.name, 'ValueError')
  t.equal((back as RemoteError).code, 'E_VALUE')
  t.equal(back.message, 'age out of range')
  t.strictSame((back as RemoteError).data, { field: 'age', limits: [0, 150] })
  t.equal(back.stack, original.stack, 'the remote stack')
})

t.test('failure - built-in errors and errors without a code', async (t) => {
  const type = viaWire(new TypeError('x is not a function'))
  t.ok(type instanceof RemoteError)
  t.equal(type.name, 'TypeError')
  t.equal((type as RemoteError).code, ErrorCode.Remote)
  const plain = toWireError(new Error('plain'))
  t.equal(plain.type, 'Error')
  t.equal(plain.code, 'ERR_REMOTE')
  t.notOk('data' in plain)
  t.notOk('cause' in plain)
  t.equal(toWireError(Object.assign(new Error('numeric'), { code: 42 })).code, '42', 'numeric codes become strings')
  t.equal(toWireError(Object.assign(new Error('odd'), { code: { x: 1 } })).code, 'ERR_REMOTE', 'other codes are dropped')
  class Nameless extends Error {}
  t.equal(toWireError(new Nameless('n')).type, 'Nameless', 'the constructor name when name is not set')
  const noStack = new Error('no stack')
  noStack.stack = undefined
  t.notOk('stack' in toWireError(noStack))
})

t.test("failure - celeriac's own errors come back as themselves", async (t) => {
  const classes = [
    errors.ConfigError, errors.InvalidArgumentError, errors.NotRegistered, errors.SerializationError, errors.TransportError,
    errors.BackendError, errors.TimeoutError, errors.TimeLimitExceeded, errors.SoftTimeLimitExceeded, errors.WorkerLostError,
    errors.MaxRetriesExceeded, errors.TaskRevokedError, errors.TaskRejectedError, errors.TaskIgnoredError, errors.ChordError,
  ]
  for (const Class of classes) {
    const original = new Class('went wrong', { data: { n: 1 } })
    const back = viaWire(original)
    t.ok(back instanceof Class, original.name)
    t.equal(back.name, original.name)
    t.equal((back as CeleriacError).code, original.code)
    t.equal(back.message, 'went wrong')
    t.strictSame((back as CeleriacError).data, { n: 1 })
    t.equal(back.stack, original.stack)
  }
})

t.test('failure - a known class name with a foreign code is a RemoteError', async (t) => {
  // A user class that happens to share a name (DOMException's TimeoutError has code 23).
  const back = fromWireError({ type: 'TimeoutError', code: '23', message: 'signal timed out' })
  t.notOk(back instanceof errors.TimeoutError)
  t.ok(back instanceof RemoteError)
  t.equal(back.name, 'TimeoutError')
  t.equal((back as RemoteError).code, '23')
})

t.test('failure - RemoteError and the base class travel as RemoteError with their name', async (t) => {
  const remote = viaWire(new RemoteError('KeyError', 'E_KEY', "'x'", { data: ['x'] }))
  t.ok(remote instanceof RemoteError)
  t.equal(remote.name, 'KeyError')
  t.equal((remote as RemoteError).code, 'E_KEY')
  t.strictSame((remote as RemoteError).data, ['x'])
  const base = viaWire(new CeleriacError('ERR_CUSTOM', 'custom'))
  t.ok(base instanceof CeleriacError)
  t.equal(base.name, 'CeleriacError')
  t.equal((base as CeleriacError).code, 'ERR_CUSTOM')
})

t.test('failure - nested causes are kept', async (t) => {
  const root = new ValueError('bad row')
  const middle = new TypeError('cannot parse', { cause: root })
  const top = new MaxRetriesExceeded('gave up after 3 retries', { cause: middle })
  const wire = toWireError(top)
  t.equal(wire.cause?.type, 'TypeError')
  t.equal(wire.cause?.cause?.type, 'ValueError')
  t.equal(wire.cause?.cause?.cause, undefined)
  const back = viaWire(top)
  t.ok(back instanceof MaxRetriesExceeded)
  const cause = back.cause as RemoteError
  t.ok(cause instanceof RemoteError)
  t.equal(cause.name, 'TypeError')
  t.equal(cause.message, 'cannot parse')
  t.equal(cause.stack, middle.stack)
  const rootBack = cause.cause as RemoteError
  t.equal(rootBack.name, 'ValueError')
  t.equal(rootBack.code, 'E_VALUE')
  t.strictSame(rootBack.data, { field: 'age', limits: [0, 150] })
  t.equal(rootBack.cause, undefined)
})

t.test('failure - a non-error cause and a cause chain deeper than eight', async (t) => {
  const wire = toWireError(new WorkerLostError('lost', { cause: 'SIGKILL' }))
  t.strictSame(wire.cause, { type: 'Error', code: 'ERR_REMOTE', message: 'SIGKILL' })
  let error: Error = new Error('level 0')
  for (let i = 1; i <= 20; i++) error = new Error(`level ${i}`, { cause: error })
  let depth = 0
  for (let w: WireError | undefined = toWireError(error); w; w = w.cause) depth++
  t.equal(depth, 9, 'the error and eight causes')
  const cyclic = new Error('a')
  ;(cyclic as { cause?: unknown }).cause = cyclic
  t.doesNotThrow(() => toWireError(cyclic), 'a cyclic cause chain ends')
})

t.test('failure - non-errors that were thrown', async (t) => {
  t.strictSame(toWireError('just a string'), { type: 'Error', code: 'ERR_REMOTE', message: 'just a string' })
  t.strictSame(toWireError(42), { type: 'Error', code: 'ERR_REMOTE', message: 'non-error thrown: 42' })
  t.strictSame(toWireError({ reason: 'x' }), { type: 'Error', code: 'ERR_REMOTE', message: 'non-error thrown: {"reason":"x"}', data: { reason: 'x' } })
  // An object thrown in place of an Error keeps what an Error would: a caller can still tell failures apart.
  t.strictSame(toWireError({ code: 'E_QUOTA', message: 'over quota', limit: 5 }), { type: 'Error', code: 'E_QUOTA', message: 'over quota', data: { code: 'E_QUOTA', message: 'over quota', limit: 5 } })
  const quota = viaWire({ name: 'QuotaError', code: 'E_QUOTA', message: 'over quota' })
  t.match(quota, { name: 'QuotaError', code: 'E_QUOTA', message: 'over quota' })
  t.strictSame(toWireError(undefined), { type: 'Error', code: 'ERR_REMOTE', message: 'non-error thrown: undefined' })
  t.strictSame(toWireError(null), { type: 'Error', code: 'ERR_REMOTE', message: 'non-error thrown: null' })
  const back = viaWire('just a string')
  t.ok(back instanceof RemoteError)
  t.equal(back.name, 'Error')
  t.equal(back.message, 'just a string')
})

t.test('failure - data that cannot be cloned becomes a string', async (t) => {
  const withFunction = new TimeLimitExceeded('late', { data: { fn: () => 1 } })
  const wire = toWireError(withFunction)
  t.equal(wire.data, '[object Object]')
  t.doesNotThrow(() => msgpackCodec.encode(wire), 'the wire form stays encodable')
  const cloned = toWireError(new TimeLimitExceeded('late', { data: { at: new Date(5), list: [1, 2] } }))
  t.ok((cloned.data as { at: Date }).at instanceof Date)
})

t.test('failure - the wire data is a copy', async (t) => {
  const data = { list: [1] }
  const wire = toWireError(new TimeLimitExceeded('late', { data }))
  data.list.push(2)
  t.strictSame(wire.data, { list: [1] })
})
