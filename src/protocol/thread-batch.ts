/**
 * The hot path between a worker node's main thread and its threads, as flat batches: every
 * task of a batch travels in one transferred buffer plus a table of integers, so a batch costs
 * one postMessage and almost no structured cloning, whatever its size. The main thread
 * forwards the task's message frame as it was delivered; the thread decodes it (threads have
 * time to spare, the main thread does not).
 * @module
 */
import type { ContentType } from '../serialization/codec.js'
import type { WireError } from '../serialization/failure.js'

/** Per-task routing facts the thread cannot read from the frame. */
export interface RunEntry {
  slot: number
  frame: Uint8Array
  queue: string
  exchange: string
  routingKey: string
  priority: number
  redelivered: boolean
  reportStart: boolean
  ignoreResult: boolean
  /** Soft time limit in ms, if any. */
  softTimeLimitMs: number | undefined
  /** W3C traceparent of the span the task runs in, when traced. */
  trace?: string
}

/** A batch of tasks, main thread to worker thread. */
export interface RunBatch {
  type: 'run'
  count: number
  frames: ArrayBuffer
  table: ArrayBuffer
  strings: string[]
  /** W3C traceparents by entry, when some entry is traced. */
  traces?: (string | undefined)[]
}

const RUN_STRIDE = 8
const FLAG_REPORT_START = 1
const FLAG_IGNORE_RESULT = 2
const FLAG_REDELIVERED = 4

/** Collects tasks for one thread until the end of the turn, then packs them into a {@link RunBatch}. */
export class RunBatchWriter {
  #entries: RunEntry[] = []
  #bytes = 0

  get size(): number {
    return this.#entries.length
  }

  add(entry: RunEntry): void {
    this.#entries.push(entry)
    this.#bytes += entry.frame.byteLength
  }

  /** Packs and empties the batch; the two buffers are meant to be transferred. */
  take(): RunBatch {
    const entries = this.#entries
    const frames = new Uint8Array(this.#bytes)
    const table = new Int32Array(entries.length * RUN_STRIDE)
    const strings: string[] = []
    const index = new Map<string, number>()
    const intern = (value: string) => {
      let i = index.get(value)
      if (i === undefined) {
        i = strings.push(value) - 1
        index.set(value, i)
      }
      return i
    }
    // Only traced tasks carry one; an untraced batch carries no array at all.
    let traces: string[] | undefined
    let offset = 0
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]
      frames.set(e.frame, offset)
      const row = i * RUN_STRIDE
      table[row] = e.slot
      table[row + 1] = offset
      table[row + 2] = e.frame.byteLength
      table[row + 3] = (e.reportStart ? FLAG_REPORT_START : 0) | (e.ignoreResult ? FLAG_IGNORE_RESULT : 0) | (e.redelivered ? FLAG_REDELIVERED : 0) | (e.priority << 8)
      table[row + 4] = e.softTimeLimitMs === undefined ? -1 : Math.min(e.softTimeLimitMs, 0x7fffffff)
      table[row + 5] = intern(e.queue)
      table[row + 6] = intern(e.exchange)
      table[row + 7] = intern(e.routingKey)
      if (e.trace !== undefined) (traces ??= new Array<string>(entries.length))[i] = e.trace
      offset += e.frame.byteLength
    }
    this.#entries = []
    this.#bytes = 0
    const batch: RunBatch = { type: 'run', count: entries.length, frames: frames.buffer, table: table.buffer, strings }
    if (traces !== undefined) batch.traces = traces
    return batch
  }
}

/** Reads the entries of a {@link RunBatch}, in order. */
export function readRunBatch(batch: RunBatch, visit: (entry: RunEntry) => void): void {
  const table = new Int32Array(batch.table)
  const { strings } = batch
  for (let i = 0; i < batch.count; i++) {
    const row = i * RUN_STRIDE
    const flags = table[row + 3]
    const soft = table[row + 4]
    const entry: RunEntry = {
      slot: table[row],
      frame: new Uint8Array(batch.frames, table[row + 1], table[row + 2]),
      reportStart: (flags & FLAG_REPORT_START) !== 0,
      ignoreResult: (flags & FLAG_IGNORE_RESULT) !== 0,
      redelivered: (flags & FLAG_REDELIVERED) !== 0,
      priority: flags >>> 8,
      softTimeLimitMs: soft < 0 ? undefined : soft,
      queue: strings[table[row + 5]],
      exchange: strings[table[row + 6]],
      routingKey: strings[table[row + 7]],
    }
    const trace = batch.traces?.[i]
    if (trace !== undefined) entry.trace = trace
    visit(entry)
  }
}

/** Outcome kinds, as stored in a batch. */
export const OutcomeKind = { Success: 0, Failure: 1, Retry: 2, Reject: 3, Ignore: 4 } as const
export type OutcomeKind = (typeof OutcomeKind)[keyof typeof OutcomeKind]

/** How one run ended, as the main thread reads it. */
export interface Outcome {
  slot: number
  kind: OutcomeKind
  runtimeMs: number
  /** Success: the encoded return value (absent when undefined or ignored). */
  result?: Uint8Array
  contentType?: ContentType
  /** Failure, retry (its cause), reject. */
  error?: WireError
  /** Retry: when to run again. */
  delayMs?: number
  /** Reject: put back in the queue. */
  requeue?: boolean
  /** Ids of the tasks the task's code sent, when it sent any. */
  children?: readonly string[]
}

/** Rare parts of an outcome (errors), cloned as objects; successes carry none. */
type Extra = [index: number, error: WireError | undefined, delayMs: number, requeue: boolean]

/** Outcomes, worker thread to main thread. */
export interface OutcomeBatch {
  type: 'done'
  count: number
  heapUsed: number
  contentType: ContentType
  table: ArrayBuffer
  runtimes: ArrayBuffer
  bytes: ArrayBuffer
  extras: Extra[]
  /** The children of the outcomes whose tasks sent tasks, by index; absent when none did. */
  children?: [index: number, ids: readonly string[]][]
}

const OUT_STRIDE = 4

/** Collects outcomes in a thread until the end of the turn, then packs them. */
export class OutcomeBatchWriter {
  #outcomes: Outcome[] = []
  #bytes = 0
  readonly #contentType: ContentType

  constructor(contentType: ContentType) {
    this.#contentType = contentType
  }

  get size(): number {
    return this.#outcomes.length
  }

  add(outcome: Outcome): void {
    this.#outcomes.push(outcome)
    if (outcome.result) this.#bytes += outcome.result.byteLength
  }

  take(heapUsed: number): OutcomeBatch {
    const outcomes = this.#outcomes
    const bytes = new Uint8Array(this.#bytes)
    const table = new Int32Array(outcomes.length * OUT_STRIDE)
    const runtimes = new Float64Array(outcomes.length)
    const extras: Extra[] = []
    let children: [number, readonly string[]][] | undefined
    let offset = 0
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i]
      const row = i * OUT_STRIDE
      table[row] = o.slot
      table[row + 1] = o.kind
      runtimes[i] = o.runtimeMs
      if (o.result) {
        bytes.set(o.result, offset)
        table[row + 2] = offset
        table[row + 3] = o.result.byteLength
        offset += o.result.byteLength
      } else {
        table[row + 3] = -1
      }
      if (o.kind !== OutcomeKind.Success && o.kind !== OutcomeKind.Ignore) extras.push([i, o.error, o.delayMs ?? 0, o.requeue ?? false])
      if (o.children !== undefined) (children ??= []).push([i, o.children])
    }
    this.#outcomes = []
    this.#bytes = 0
    const batch: OutcomeBatch = { type: 'done', count: outcomes.length, heapUsed, contentType: this.#contentType, table: table.buffer, runtimes: runtimes.buffer, bytes: bytes.buffer, extras }
    if (children !== undefined) batch.children = children
    return batch
  }
}

/** Reads the outcomes of an {@link OutcomeBatch}, in order. Results are views on the batch's buffer. */
export function readOutcomes(batch: OutcomeBatch, visit: (outcome: Outcome) => void): void {
  const table = new Int32Array(batch.table)
  const runtimes = new Float64Array(batch.runtimes)
  let extra = 0
  let child = 0
  for (let i = 0; i < batch.count; i++) {
    const row = i * OUT_STRIDE
    const outcome: Outcome = { slot: table[row], kind: table[row + 1] as OutcomeKind, runtimeMs: runtimes[i] }
    const length = table[row + 3]
    if (length >= 0) {
      outcome.result = new Uint8Array(batch.bytes, table[row + 2], length)
      outcome.contentType = batch.contentType
    }
    const more = batch.extras[extra]
    if (more !== undefined && more[0] === i) {
      extra++
      if (more[1] !== undefined) outcome.error = more[1]
      outcome.delayMs = more[2]
      outcome.requeue = more[3]
    }
    const sent = batch.children?.[child]
    if (sent !== undefined && sent[0] === i) {
      child++
      outcome.children = sent[1]
    }
    visit(outcome)
  }
}
