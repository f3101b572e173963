// `npm run bench:envelope`: what framing a task message costs, per message: encodeMessage on
// the sending side and decodeHeaders on a worker's main thread, for plain tasks (a UUID, a
// task name, an origin: what every task sent without canvas, callbacks or user headers
// carries) and for tasks with canvas and user headers. 10,000 messages x 30, 5 rounds; prints
// the median µs per message of each, as a table and JSON.
import { decodeHeaders, encodeMessage, type TaskHeaders } from '../src/protocol/envelope.js'
import { msgpackCodec } from '../src/serialization/codec.js'
import { newTaskId } from '../src/util/ids.js'
import { summarize, table } from './stats.js'

const MESSAGES = 10_000
const REPEAT = 30
const ROUNDS = 5
const body = msgpackCodec.encode([[1], null])

function plain(): TaskHeaders {
  const id = newTaskId()
  return { id, task: 'bench.noop', retries: 0, rootId: id, origin: '4242@bench-host', contentType: 'application/x-msgpack' }
}

function withCanvas(): TaskHeaders {
  const id = newTaskId()
  return {
    ...plain(),
    id,
    rootId: newTaskId(),
    parentId: newTaskId(),
    headers: { tenant: 'acme' },
    chain: [{ task: 'bench.next', args: [], kwargs: {}, options: { taskId: newTaskId() }, immutable: false }],
  }
}

/** µs per call of `fn` over every input, REPEAT times. */
function time<T>(inputs: T[], fn: (input: T) => unknown): number {
  const began = performance.now()
  for (let r = 0; r < REPEAT; r++) for (const input of inputs) fn(input)
  return ((performance.now() - began) * 1000) / (REPEAT * inputs.length)
}

const rows = []
for (const [kind, make] of [['plain', plain], ['canvas and user headers', withCanvas]] as const) {
  const headers = Array.from({ length: MESSAGES }, make)
  const frames = headers.map((h) => encodeMessage({ headers: h, body }))
  const encode: number[] = []
  const decode: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    encode.push(time(headers, (h) => encodeMessage({ headers: h, body })))
    decode.push(time(frames, decodeHeaders))
  }
  rows.push({ message: kind, 'encodeMessage µs': summarize(encode).median, 'decodeHeaders µs': summarize(decode).median })
}
console.log(table(rows))
console.log(JSON.stringify({ benchmark: 'envelope', date: new Date().toISOString(), node: process.version, messages: MESSAGES, repeat: REPEAT, rounds: ROUNDS, rows }, null, 2))
