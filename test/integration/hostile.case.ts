/**
 * Issue 19: each hostile message shape the issue lists, published as a raw frame built with the
 * real encoder, and what becomes of it: dead-lettered with a reason naming the field, or a
 * FAILURE with a clear error. After each, the worker still runs a valid task. Run on memory://
 * (hostile-memory.test.ts) and on a real nats-server with the worker in its own process
 * (hostile-nats.test.ts).
 */
import type { Test } from 'tap'
import { encodeMessage, type TaskHeaders } from '../../src/protocol/envelope.js'
import { msgpackCodec } from '../../src/serialization/codec.js'
import type { App } from '../../src/index.js'

/** What the cases drive. */
export interface HostileFixture {
  app: App
  /** The queue the worker consumes. */
  queue: string
  /** Throws unless the worker is still up (its process, on NATS). */
  alive(): void
}

const ID = 'a non-empty string of at most 256 characters'
const NAME = 'a non-empty string of at most 256 characters'
const EPOCH = 'epoch milliseconds from 0 to 7258118400000 (the year 2200)'
const LIMIT = 'null or milliseconds from 0 to 2147483647'
const SUBJECT = 'a reply subject (dot-separated tokens without spaces, control characters or wildcards, at most 256 characters; not a $ subject of JetStream or KV, nor a queue, dead-letter or bus subject)'

let n = 0
const nextId = () => `hostile-${process.pid}-${++n}`
const args = (...values: unknown[]) => msgpackCodec.encode([values, null])

/** Headers of a valid `h.add` call, with `change` applied (an `undefined` removes a field). */
function headersWith(id: string, change: Record<string, unknown>): TaskHeaders {
  const headers: Record<string, unknown> = { id, task: 'h.add', retries: 0, rootId: id, contentType: 'application/x-msgpack', ...change }
  for (const key of Object.keys(headers)) if (headers[key] === undefined) delete headers[key]
  return headers as unknown as TaskHeaders
}

/** Header shapes the worker must dead-letter, with the exact reason. */
export const DEAD_LETTERED: [shape: string, change: Record<string, unknown>, reason: string][] = [
  ['callbacks: "x"', { callbacks: 'x' }, 'headers.callbacks must be a list of signatures, got "x"'],
  ['malformed errbacks', { errbacks: [{ task: 5, args: [] }] }, `headers.errbacks[0].task must be ${NAME}, got 5`],
  ['errbacks of a string', { errbacks: ['h.add'] }, 'headers.errbacks[0] must be a signature, got "h.add"'],
  ['chain: [{task}]', { chain: [{ task: 'h.add' }] }, 'headers.chain[0].args must be a list, got undefined'],
  ['an empty chain', { chain: [] }, 'headers.chain must be a non-empty list of signatures, got an array of 0'],
  ['a chain nested past the bound', { chain: [nested(40)] }, `headers.chain[0]${'.tasks[0]'.repeat(32)} must be a signature nested at most 32 deep, got an object`],
  ['chord: {id: 1}', { chord: { id: 1 } }, `headers.chord.id must be ${ID}, got 1`],
  ['chord index past its size', { chord: { id: 'c', index: 5, size: 2 } }, 'headers.chord.index must be an integer from 0 to size-1, got 5'],
  ['replyTo: "a b"', { replyTo: 'a b' }, `headers.replyTo must be ${SUBJECT}, got "a b"`],
  ['replyTo with a wildcard', { replyTo: 'rpc.>' }, `headers.replyTo must be ${SUBJECT}, got "rpc.>"`],
  // Hostile-input audit: a worker may write results; a sender may only send tasks.
  ['replyTo: a results key', { replyTo: '$KV.celeriac-results.x' }, `headers.replyTo must be ${SUBJECT}, got "$KV.celeriac-results.x"`],
  ['retries: 1e300', { retries: 1e300 }, 'headers.retries must be a non-negative integer of at most 1000000, got 1e+300'],
  ['eta: 1e300', { eta: 1e300 }, `headers.eta must be ${EPOCH}, got 1e+300`],
  ['eta: NaN', { eta: NaN }, `headers.eta must be ${EPOCH}, got NaN`],
  ['expires: NaN', { expires: NaN }, `headers.expires must be ${EPOCH}, got NaN`],
  ['timeLimit: "x"', { timeLimit: 'x' }, 'headers.timeLimit must be a pair [soft, hard], got "x"'],
  ['timeLimit: [0, 1e300]', { timeLimit: [0, 1e300] }, `headers.timeLimit[1] must be ${LIMIT}, got 1e+300`],
  ['ignoreResult: "yes"', { ignoreResult: 'yes' }, 'headers.ignoreResult must be a boolean, got "yes"'],
  ['priority: "high"', { priority: 'high' }, 'headers.priority must be an integer from 0 to 9, got "high"'],
  ['groupId: 5', { groupId: 5 }, `headers.groupId must be ${ID}, got 5`],
  ['parentId: {}', { parentId: {} }, `headers.parentId must be ${ID}, got an object`],
  ['headers: "x"', { headers: 'x' }, 'headers.headers must be an object, got "x"'],
  ['headers: []', { headers: [] }, 'headers.headers must be an object, got an array of 0'],
  ['a 4 KB task id', { id: 'x'.repeat(4096) }, `headers.id must be ${ID}, got a string of 4096 characters`],
  ['a 4 KB task name', { task: 'h.'.padEnd(4096, 'x') }, `headers.task must be ${NAME}, got a string of 4096 characters`],
]

/** A chain nested `depth` deep around one task. */
function nested(depth: number): unknown {
  let data: unknown = { task: 'h.add', args: [1, 2] }
  for (let i = 0; i < depth; i++) data = { subtaskType: 'chain', tasks: [data], options: {} }
  return data
}

async function publish(fx: HostileFixture, frame: Uint8Array): Promise<void> {
  const transport = await fx.app.transport()
  await transport.publish({ exchange: '', routingKey: fx.queue, body: frame })
}

async function deadLetterOf(fx: HostileFixture, frame: Uint8Array): Promise<string> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const letter = (await fx.app.deadLetters(fx.queue)).find((l) => Buffer.compare(Buffer.from(l.body), Buffer.from(frame)) === 0)
    if (letter) return letter.reason
    if (Date.now() > deadline) throw new Error('no dead letter within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** The worker runs a valid task, sent after the bad message, with its right value. */
async function stillServes(t: Test, fx: HostileFixture): Promise<void> {
  const id = nextId()
  await publish(fx, encodeMessage({ headers: headersWith(id, {}), body: args(20, 22) }))
  t.equal(await fx.app.asyncResult(id).get({ timeout: 10 }), 42, 'a valid task sent after it succeeds')
  fx.alive()
}

/** Registers the cases on `t`. */
export function hostileCases(t: Test, fx: HostileFixture): void {
  for (const [shape, change, reason] of DEAD_LETTERED) {
    t.test(`dead-lettered with its reason: ${shape}`, async (t) => {
      const frame = encodeMessage({ headers: headersWith(nextId(), change), body: args(1, 2) })
      await publish(fx, frame)
      t.equal(await deadLetterOf(fx, frame), `invalid message: ${reason}`)
      await stillServes(t, fx)
    })
  }

  t.test('FAILURE with its error: a string in place of the argument list', async (t) => {
    const id = nextId()
    await publish(fx, encodeMessage({ headers: headersWith(id, {}), body: msgpackCodec.encode(['12', null]) }))
    await t.rejects(fx.app.asyncResult(id).get({ timeout: 10 }), { name: 'SerializationError', message: 'invalid message: body.args must be a list, got "12"' })
    await stillServes(t, fx)
  })

  t.test('FAILURE with its error: kwargs that are not an object', async (t) => {
    const id = nextId()
    await publish(fx, encodeMessage({ headers: headersWith(id, {}), body: msgpackCodec.encode([[1, 2], 'x']) }))
    await t.rejects(fx.app.asyncResult(id).get({ timeout: 10 }), { name: 'SerializationError', message: 'invalid message: body.kwargs must be null or an object, got "x"' })
    await stillServes(t, fx)
  })

  t.test('FAILURE with its error: missing arguments are refused, not passed as undefined', async (t) => {
    const id = nextId()
    await publish(fx, encodeMessage({ headers: headersWith(id, {}), body: args() }))
    await t.rejects(fx.app.asyncResult(id).get({ timeout: 10 }), { name: 'InvalidArgumentError', message: 'h.add takes 2 arguments, got 0' })
    await stillServes(t, fx)
  })

  t.test('FAILURE with its error: a result that would not decode is not stored as SUCCESS', async (t) => {
    const id = nextId()
    await publish(fx, encodeMessage({ headers: headersWith(id, { task: 'h.unreadable' }), body: args() }))
    const error = (await fx.app.asyncResult(id).get({ timeout: 10, propagate: false })) as Error
    t.equal(error.name, 'SerializationError')
    t.match(error.message, /^result of h\.unreadable cannot be read back once encoded \(.+\): return plain data \(a Map needs string or number keys\)$/)
    t.equal(await fx.app.asyncResult(id).state(), 'FAILURE')
    await stillServes(t, fx)
  })

  t.test('valid shape, failing flow: a chord member of a chord nobody started keeps the worker up', async (t) => {
    const id = nextId()
    await publish(fx, encodeMessage({ headers: headersWith(id, { chord: { id: `no-chord-${id}`, index: 0, size: 2 } }), body: args(1, 2) }))
    t.equal(await fx.app.asyncResult(id).get({ timeout: 10 }), 3, 'the task itself succeeded')
    await stillServes(t, fx)
  })

  t.test('valid shape, failing flow: a link to an unregistered task is dead-lettered, the parent succeeds', async (t) => {
    const id = nextId()
    const frame = encodeMessage({ headers: headersWith(id, { callbacks: [{ task: 'h.nope', args: [], kwargs: {}, options: { taskId: `${id}-cb` }, immutable: true }] }), body: args(1, 2) })
    await publish(fx, frame)
    t.equal(await fx.app.asyncResult(id).get({ timeout: 10 }), 3)
    const deadline = Date.now() + 10_000
    while (!(await fx.app.deadLetters(fx.queue)).some((l) => l.reason === 'unregistered task h.nope') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
    t.ok((await fx.app.deadLetters(fx.queue)).some((l) => l.reason === 'unregistered task h.nope'), 'the callback is dead-lettered')
    await stillServes(t, fx)
  })

  t.test('garbage bytes and a truncated frame are dead-lettered too', async (t) => {
    const frame = encodeMessage({ headers: headersWith(nextId(), {}), body: args(1, 2) })
    const truncated = frame.subarray(0, 12)
    await publish(fx, truncated)
    t.match(await deadLetterOf(fx, truncated), /^undecodable: undecodable task message: headers of \d+ bytes overrun a frame of 12$/)
    await stillServes(t, fx)
  })
}
