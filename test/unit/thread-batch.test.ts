import t from 'tap'
import { OutcomeBatchWriter, OutcomeKind, RunBatchWriter, readOutcomes, readRunBatch } from '../../src/protocol/thread-batch.js'
import type { Outcome, RunBatch, RunEntry } from '../../src/protocol/thread-batch.js'
import type { WireError } from '../../src/serialization/failure.js'

const entry = (slot: number, overrides: Partial<RunEntry> = {}): RunEntry => ({
  slot,
  frame: new Uint8Array([slot, slot + 1, slot + 2]),
  queue: 'celery',
  exchange: '',
  routingKey: 'celery',
  priority: 0,
  redelivered: false,
  reportStart: false,
  ignoreResult: false,
  softTimeLimitMs: undefined,
  ...overrides,
})

const readRuns = (batch: RunBatch): RunEntry[] => {
  const entries: RunEntry[] = []
  readRunBatch(batch, (e) => entries.push(e))
  return entries
}

const plain = (e: RunEntry) => ({ ...e, frame: [...e.frame] })

t.test('run batch - every field round trips', async (t) => {
  const writer = new RunBatchWriter()
  const written = [
    entry(0),
    entry(7, { queue: 'images', exchange: 'media', routingKey: 'media.image', priority: 9, redelivered: true, reportStart: true, ignoreResult: true, softTimeLimitMs: 1500 }),
    entry(3, { reportStart: true, softTimeLimitMs: 0 }),
    entry(2_000_000, { ignoreResult: true, priority: 255 }),
    entry(5, { redelivered: true, frame: new Uint8Array(0) }),
  ]
  for (const e of written) writer.add(e)
  t.equal(writer.size, 5)
  const batch = writer.take()
  t.equal(batch.type, 'run')
  t.equal(batch.count, 5)
  t.strictSame(readRuns(batch).map(plain), written.map(plain))
  t.equal(writer.size, 0, 'take empties the writer')
})

t.test('run batch - soft limit undefined and zero stay apart; large limits are capped', async (t) => {
  const writer = new RunBatchWriter()
  writer.add(entry(1, { softTimeLimitMs: undefined }))
  writer.add(entry(2, { softTimeLimitMs: 0 }))
  writer.add(entry(3, { softTimeLimitMs: 0x7fffffff }))
  writer.add(entry(4, { softTimeLimitMs: 2 ** 40 }))
  const read = readRuns(writer.take())
  t.equal(read[0].softTimeLimitMs, undefined)
  t.ok('softTimeLimitMs' in read[0], 'the key is present')
  t.equal(read[1].softTimeLimitMs, 0)
  t.equal(read[2].softTimeLimitMs, 0x7fffffff)
  t.equal(read[3].softTimeLimitMs, 0x7fffffff, 'capped at the largest int32')
})

t.test('run batch - frames travel in one buffer, strings are interned', async (t) => {
  const writer = new RunBatchWriter()
  const backing = new Uint8Array([99, 1, 2, 3, 99])
  writer.add(entry(1, { frame: backing.subarray(1, 4), queue: 'a', exchange: 'x', routingKey: 'a' }))
  writer.add(entry(2, { frame: new Uint8Array([4, 5]), queue: 'b', exchange: 'x', routingKey: 'a' }))
  writer.add(entry(3, { frame: new Uint8Array([6]), queue: 'a', exchange: '', routingKey: 'b' }))
  const batch = writer.take()
  t.equal(batch.frames.byteLength, 6, 'only the bytes of the views')
  t.same([...new Uint8Array(batch.frames)], [1, 2, 3, 4, 5, 6])
  t.strictSame(batch.strings, ['a', 'x', 'b', ''], 'each distinct string once, in first-use order')
  t.equal(batch.table.byteLength, 3 * 8 * 4, 'eight int32 per task')
  const read = readRuns(batch)
  t.strictSame(read.map((e) => [e.queue, e.exchange, e.routingKey]), [['a', 'x', 'a'], ['b', 'x', 'a'], ['a', '', 'b']])
  t.strictSame(read.map((e) => [...e.frame]), [[1, 2, 3], [4, 5], [6]])
  t.equal(read[1].frame.buffer, batch.frames, 'frames are views on the batch buffer')
  backing[1] = 0
  t.equal(read[0].frame[0], 1, 'not on the caller buffer')
})

t.test('run batch - an empty batch, and a writer reused after take', async (t) => {
  const writer = new RunBatchWriter()
  const empty = writer.take()
  t.strictSame(empty.count, 0)
  t.equal(empty.frames.byteLength, 0)
  t.equal(empty.table.byteLength, 0)
  t.strictSame(empty.strings, [])
  t.strictSame(readRuns(empty), [])
  writer.add(entry(1, { queue: 'first' }))
  const first = writer.take()
  writer.add(entry(2, { queue: 'second', frame: new Uint8Array([42]) }))
  const second = writer.take()
  t.strictSame(readRuns(first).map(plain), [plain(entry(1, { queue: 'first' }))])
  t.strictSame(readRuns(second).map(plain), [plain(entry(2, { queue: 'second', frame: new Uint8Array([42]) }))])
  t.equal(second.frames.byteLength, 1, 'the byte count restarts')
})

t.test('run batch - survives structured cloning with its buffers transferred', async (t) => {
  const writer = new RunBatchWriter()
  writer.add(entry(1, { queue: 'q', priority: 4, softTimeLimitMs: 10 }))
  const batch = writer.take()
  const moved = structuredClone(batch, { transfer: [batch.frames, batch.table] })
  t.equal(batch.frames.byteLength, 0, 'the original buffers were transferred')
  t.strictSame(readRuns(moved).map(plain), [plain(entry(1, { queue: 'q', priority: 4, softTimeLimitMs: 10 }))])
})

const readAll = (writer: OutcomeBatchWriter, heapUsed = 0): Outcome[] => {
  const outcomes: Outcome[] = []
  readOutcomes(writer.take(heapUsed), (o) => outcomes.push(o))
  return outcomes
}
const withPlainResult = (o: Outcome) => (o.result ? { ...o, result: [...o.result] } : o)
const wireError: WireError = { type: 'ValueError', code: 'E_VALUE', message: 'bad', stack: 'ValueError: bad\n    at x', data: { n: 1 } }

t.test('outcome batch - kinds, runtimes and results round trip', async (t) => {
  const writer = new OutcomeBatchWriter('application/x-msgpack')
  writer.add({ slot: 1, kind: OutcomeKind.Success, runtimeMs: 1.25, result: new Uint8Array([1, 2, 3]) })
  writer.add({ slot: 2, kind: OutcomeKind.Success, runtimeMs: 0 })
  writer.add({ slot: 3, kind: OutcomeKind.Ignore, runtimeMs: 7 })
  writer.add({ slot: 4, kind: OutcomeKind.Success, runtimeMs: 1e12, result: new Uint8Array(0) })
  t.equal(writer.size, 4)
  const batch = writer.take(12_345)
  t.equal(batch.type, 'done')
  t.equal(batch.count, 4)
  t.equal(batch.heapUsed, 12_345)
  t.equal(batch.contentType, 'application/x-msgpack')
  t.strictSame(batch.extras, [], 'successes and ignores carry no extras')
  const outcomes: Outcome[] = []
  readOutcomes(batch, (o) => outcomes.push(o))
  t.strictSame(outcomes.map(withPlainResult), [
    { slot: 1, kind: OutcomeKind.Success, runtimeMs: 1.25, result: [1, 2, 3], contentType: 'application/x-msgpack' },
    { slot: 2, kind: OutcomeKind.Success, runtimeMs: 0 },
    { slot: 3, kind: OutcomeKind.Ignore, runtimeMs: 7 },
    { slot: 4, kind: OutcomeKind.Success, runtimeMs: 1e12, result: [], contentType: 'application/x-msgpack' },
  ])
  t.equal(writer.size, 0)
})

t.test('outcome batch - the ids of tasks a task sent ride only on its entry; a batch without any has none', async (t) => {
  const writer = new OutcomeBatchWriter('application/x-msgpack')
  writer.add({ slot: 1, kind: OutcomeKind.Success, runtimeMs: 1 })
  writer.add({ slot: 2, kind: OutcomeKind.Success, runtimeMs: 1, children: ['a', 'b'] })
  writer.add({ slot: 3, kind: OutcomeKind.Failure, runtimeMs: 1, error: wireError, children: ['c'] })
  writer.add({ slot: 4, kind: OutcomeKind.Success, runtimeMs: 1 })
  t.strictSame(readAll(writer).map((o) => [o.slot, o.children]), [[1, undefined], [2, ['a', 'b']], [3, ['c']], [4, undefined]])
  writer.add({ slot: 5, kind: OutcomeKind.Success, runtimeMs: 1 })
  t.notOk('children' in writer.take(0), 'nothing added where no task sent one')
})

t.test('outcome batch - errors, delays and requeue ride only on the entries that have them', async (t) => {
  const writer = new OutcomeBatchWriter('application/json')
  writer.add({ slot: 1, kind: OutcomeKind.Success, runtimeMs: 1, result: new Uint8Array([9]) })
  writer.add({ slot: 2, kind: OutcomeKind.Failure, runtimeMs: 2, error: wireError })
  writer.add({ slot: 3, kind: OutcomeKind.Success, runtimeMs: 3 })
  writer.add({ slot: 4, kind: OutcomeKind.Retry, runtimeMs: 4, error: wireError, delayMs: 5000 })
  writer.add({ slot: 5, kind: OutcomeKind.Reject, runtimeMs: 5, error: wireError, requeue: true })
  writer.add({ slot: 6, kind: OutcomeKind.Retry, runtimeMs: 6, delayMs: 0 })
  writer.add({ slot: 7, kind: OutcomeKind.Reject, runtimeMs: 7 })
  const batch = writer.take(0)
  t.strictSame(batch.extras.map(([index]) => index), [1, 3, 4, 5, 6])
  const outcomes: Outcome[] = []
  readOutcomes(batch, (o) => outcomes.push(o))
  t.strictSame(outcomes.map(withPlainResult), [
    { slot: 1, kind: OutcomeKind.Success, runtimeMs: 1, result: [9], contentType: 'application/json' },
    { slot: 2, kind: OutcomeKind.Failure, runtimeMs: 2, error: wireError, delayMs: 0, requeue: false },
    { slot: 3, kind: OutcomeKind.Success, runtimeMs: 3 },
    { slot: 4, kind: OutcomeKind.Retry, runtimeMs: 4, error: wireError, delayMs: 5000, requeue: false },
    { slot: 5, kind: OutcomeKind.Reject, runtimeMs: 5, error: wireError, delayMs: 0, requeue: true },
    { slot: 6, kind: OutcomeKind.Retry, runtimeMs: 6, delayMs: 0, requeue: false },
    { slot: 7, kind: OutcomeKind.Reject, runtimeMs: 7, delayMs: 0, requeue: false },
  ])
})

t.test('outcome batch - results share one buffer and the writer restarts after take', async (t) => {
  const writer = new OutcomeBatchWriter('application/x-msgpack')
  const backing = new Uint8Array([0, 1, 2, 0])
  writer.add({ slot: 1, kind: OutcomeKind.Success, runtimeMs: 1, result: backing.subarray(1, 3) })
  writer.add({ slot: 2, kind: OutcomeKind.Success, runtimeMs: 1, result: new Uint8Array([3]) })
  const first = writer.take(0)
  t.equal(first.bytes.byteLength, 3)
  const results: Uint8Array[] = []
  readOutcomes(first, (o) => results.push(o.result as Uint8Array))
  t.strictSame(results.map((r) => [...r]), [[1, 2], [3]])
  t.equal(results[0].buffer, first.bytes, 'results are views on the batch buffer')
  writer.add({ slot: 3, kind: OutcomeKind.Failure, runtimeMs: 1, error: wireError })
  const second = writer.take(0)
  t.equal(second.bytes.byteLength, 0)
  t.equal(second.count, 1)
  t.strictSame(readAll(writer), [], 'an empty batch')
})

t.test('outcome batch - survives structured cloning with its buffers transferred', async (t) => {
  const writer = new OutcomeBatchWriter('application/x-msgpack')
  writer.add({ slot: 1, kind: OutcomeKind.Success, runtimeMs: 2.5, result: new Uint8Array([1]) })
  writer.add({ slot: 2, kind: OutcomeKind.Retry, runtimeMs: 3, error: wireError, delayMs: 10 })
  const batch = writer.take(99)
  const moved = structuredClone(batch, { transfer: [batch.table, batch.runtimes, batch.bytes] })
  const outcomes: Outcome[] = []
  readOutcomes(moved, (o) => outcomes.push(o))
  t.strictSame(outcomes.map(withPlainResult), [
    { slot: 1, kind: OutcomeKind.Success, runtimeMs: 2.5, result: [1], contentType: 'application/x-msgpack' },
    { slot: 2, kind: OutcomeKind.Retry, runtimeMs: 3, error: wireError, delayMs: 10, requeue: false },
  ])
})
