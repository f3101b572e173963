/**
 * Hostile traffic for the fuzz suite and `bench/hostile.ts` (issue 19): task frames built with
 * the real encoder and then mutated (a field's type or value, a length, a truncation, a flipped
 * byte, a foreign body), raw messages whose NATS headers cannot be parsed, and valid `h.add`
 * tasks interleaved among them. Each garbage message says what the worker must do with it,
 * decided by the real decoder: dead-letter it with that reason, or (it decodes) anything but
 * crash.
 */
import fc from 'fast-check'
import { decodeHeaders, encodeMessage, type TaskHeaders } from '../../src/protocol/envelope.js'
import { InvalidMessageError } from '../../src/protocol/validate-envelope.js'
import { msgpackCodec } from '../../src/serialization/codec.js'
import { readFileSync } from 'node:fs'
import { Names } from '../../src/transport/nats/names.js'
import { BAD_HEADERS, type RawPublisher } from './raw-nats.js'
import type { Transport } from '../../src/transport/transport.js'

/** One message of the traffic. */
export type HostileMessage =
  /** A valid `h.add(x, 1)` call: must succeed with `x + 1`. */
  | { kind: 'valid'; id: string; x: number; frame: Uint8Array }
  /** A frame the decoder refuses: must be dead-lettered with `reason`. */
  | { kind: 'refused'; frame: Uint8Array; reason: string }
  /** A mutated frame that still decodes: it may run, fail or be dead-lettered, never crash the worker. */
  | { kind: 'accepted'; frame: Uint8Array }
  /** Raw bytes with a NATS header block the client cannot parse: dead-lettered, reason `reason`. */
  | { kind: 'raw-headers'; block: string; payload: Uint8Array; reason: RegExp }

const FIELDS = [
  'id', 'task', 'retries', 'rootId', 'parentId', 'groupId', 'eta', 'expires', 'timeLimit', 'origin',
  'ignoreResult', 'priority', 'contentType', 'headers', 'callbacks', 'errbacks', 'chain', 'chord', 'replyTo',
] as const

/** Values no field expects, or expects within bounds they break. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(1e300, -1, NaN, Infinity, -Infinity, 0.5, 2 ** 53, '', 'x', 'a b', 'rpc.>', true, 'yes', null, [], {}, [{}], [{ task: 'h.add' }], { id: 1 }, { id: 'c', index: 5, size: 2 }),
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.constant(null)), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), { maxKeys: 3 }),
  fc.integer({ min: 257, max: 5_000 }).map((n) => 'x'.repeat(n)),
)

/** How a valid frame is spoiled. */
const mutation = fc.oneof(
  fc.record({ type: fc.constant('field' as const), field: fc.constantFrom(...FIELDS), value: hostileValue }),
  fc.record({ type: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ type: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ type: fc.constant('body' as const), value: hostileValue }),
  fc.record({ type: fc.constant('raw-headers' as const), which: fc.nat({ max: BAD_HEADERS.length - 1 }) }),
)

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never

function headersOf(id: string): TaskHeaders {
  return { id, task: 'h.add', retries: 0, rootId: id, contentType: 'application/x-msgpack' }
}

/** A valid `h.add(x, 1)` frame. */
export function validMessage(id: string, x: number): HostileMessage {
  return { kind: 'valid', id, x, frame: encodeMessage({ headers: headersOf(id), body: msgpackCodec.encode([[x, 1], null]) }) }
}

function spoil(id: string, m: Mutation): HostileMessage {
  const body = msgpackCodec.encode([[1, 2], null])
  let frame: Uint8Array
  switch (m.type) {
    case 'raw-headers': {
      const [name, block, reason] = BAD_HEADERS[m.which]
      return { kind: 'raw-headers', block, payload: new TextEncoder().encode(`${name} ${id}`), reason }
    }
    case 'field':
      frame = encodeMessage({ headers: { ...headersOf(id), [m.field]: m.value } as TaskHeaders, body })
      break
    case 'body':
      frame = encodeMessage({ headers: headersOf(id), body: msgpackCodec.encode(m.value) })
      break
    case 'truncate': {
      const whole = encodeMessage({ headers: headersOf(id), body })
      frame = whole.slice(0, m.at % whole.byteLength)
      break
    }
    case 'flip': {
      frame = encodeMessage({ headers: headersOf(id), body }).slice()
      frame[m.at % frame.byteLength] = m.byte
      break
    }
  }
  try {
    decodeHeaders(frame)
  } catch (error) {
    const message = (error as Error).message
    return { kind: 'refused', frame, reason: error instanceof InvalidMessageError ? message : `undecodable: ${message}` }
  }
  return { kind: 'accepted', frame }
}

/**
 * `count` messages from `seed`: one valid task in every `validEvery`, the rest garbage.
 * Deterministic for a seed, so a failing run can be replayed.
 */
export function hostileTraffic(count: number, seed: number, validEvery = 3, tag = `${process.pid}`): HostileMessage[] {
  const mutations = fc.sample(mutation, { numRuns: count, seed })
  // Valid and garbage ids differ in two bytes: a flipped byte cannot give garbage a valid task's id.
  return mutations.map((m, i) => (i % validEvery === 0 ? validMessage(`ok-${tag}-${seed}-${i}`, i) : spoil(`zz-${tag}-${seed}-${i}`, m)))
}

/**
 * Publishes the traffic to the `celery` queue of the default prefix, `window` at a time:
 * raw-header messages on the raw connection, the rest through the transport. With a window of
 * 1 (the default) every message lands in order between its neighbours.
 */
export async function sendTraffic(transport: Transport, raw: RawPublisher, traffic: readonly HostileMessage[], window = 1): Promise<void> {
  const subject = new Names('celeriac').queueSubject('celery')
  for (let start = 0; start < traffic.length; start += window) {
    const sends: Promise<unknown>[] = []
    for (const message of traffic.slice(start, start + window)) {
      if (message.kind === 'raw-headers') raw.publish(subject, message.block, message.payload)
      else sends.push(transport.publish({ exchange: '', routingKey: 'celery', body: message.frame }))
    }
    sends.push(raw.flush())
    await Promise.all(sends)
  }
}

/** Resident set of a process, KiB (Linux; 0 where /proc cannot tell). */
export function rssKb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) : 0
  } catch {
    return 0
  }
}
