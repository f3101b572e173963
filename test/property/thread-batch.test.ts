import { deepStrictEqual } from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { OutcomeBatchWriter, OutcomeKind, RunBatchWriter, readOutcomes, readRunBatch } from '../../src/protocol/thread-batch.js'
import type { Outcome, RunEntry } from '../../src/protocol/thread-batch.js'
import type { WireError } from '../../src/serialization/failure.js'

const name = fc.constantFrom('', 'celery', 'images', 'media', 'media.image.png', 'ü.☃')
const runEntry: fc.Arbitrary<RunEntry> = fc.record({
  slot: fc.integer({ min: 0, max: 0x7fffffff }),
  frame: fc.uint8Array({ maxLength: 32 }),
  queue: name,
  exchange: name,
  routingKey: name,
  priority: fc.integer({ min: 0, max: 255 }),
  redelivered: fc.boolean(),
  reportStart: fc.boolean(),
  ignoreResult: fc.boolean(),
  softTimeLimitMs: fc.option(fc.integer({ min: 0, max: 0x7fffffff }), { nil: undefined }),
})

const plainRun = (e: RunEntry) => ({ ...e, frame: [...e.frame] })

t.test('thread batch property - run entries round trip, batch after batch', async (t) => {
  const writer = new RunBatchWriter()
  fc.assert(
    fc.property(fc.array(runEntry, { maxLength: 20 }), (entries) => {
      for (const e of entries) writer.add(e)
      const batch = writer.take()
      const read: RunEntry[] = []
      readRunBatch(batch, (e) => read.push(e))
      deepStrictEqual(read.map(plainRun), entries.map(plainRun))
      const distinct = new Set(entries.flatMap((e) => [e.queue, e.exchange, e.routingKey]))
      return batch.count === entries.length && batch.strings.length === distinct.size && writer.size === 0
    }),
    { numRuns: 200 },
  )
  t.pass('200 random batches')
})

const wireError: fc.Arbitrary<WireError> = fc.record(
  { type: fc.constantFrom('Error', 'ValueError'), code: fc.constantFrom('ERR_REMOTE', 'E_X'), message: fc.string(), stack: fc.string(), data: fc.jsonValue() },
  { requiredKeys: ['type', 'code', 'message'] },
)
const kind = fc.constantFrom(...Object.values(OutcomeKind))
const outcome: fc.Arbitrary<Outcome> = fc.record(
  {
    slot: fc.integer({ min: 0, max: 0x7fffffff }),
    kind,
    runtimeMs: fc.double({ noNaN: true }),
    result: fc.uint8Array({ maxLength: 16 }),
    error: wireError,
    delayMs: fc.nat(),
    requeue: fc.boolean(),
  },
  { requiredKeys: ['slot', 'kind', 'runtimeMs'] },
)

// What the main thread should read back: results with the batch's content type; error, delay
// and requeue only on failures, retries and rejects, with delay and requeue defaulted there.
function expected(o: Outcome): Record<string, unknown> {
  const want: Record<string, unknown> = { slot: o.slot, kind: o.kind, runtimeMs: o.runtimeMs }
  if (o.result) {
    want.result = [...o.result]
    want.contentType = 'application/x-msgpack'
  }
  if (o.kind !== OutcomeKind.Success && o.kind !== OutcomeKind.Ignore) {
    if (o.error !== undefined) want.error = o.error
    want.delayMs = o.delayMs ?? 0
    want.requeue = o.requeue ?? false
  }
  return want
}

t.test('thread batch property - outcomes round trip, extras only where they belong', async (t) => {
  const writer = new OutcomeBatchWriter('application/x-msgpack')
  fc.assert(
    fc.property(fc.array(outcome, { maxLength: 20 }), fc.nat(), (outcomes, heapUsed) => {
      for (const o of outcomes) writer.add(o)
      const batch = writer.take(heapUsed)
      const read: Record<string, unknown>[] = []
      readOutcomes(batch, (o) => read.push(o.result ? { ...o, result: [...o.result] } : { ...o }))
      deepStrictEqual(read, outcomes.map(expected))
      const failing = outcomes.filter((o) => o.kind !== OutcomeKind.Success && o.kind !== OutcomeKind.Ignore).length
      return batch.count === outcomes.length && batch.heapUsed === heapUsed && batch.extras.length === failing && writer.size === 0
    }),
    { numRuns: 200 },
  )
  t.pass('200 random batches')
})
