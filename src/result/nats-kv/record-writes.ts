/**
 * The `nats://` backend's record writes: in order per task, each resolved once the stream has it.
 * @module
 */
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { READY_STATES } from '../../lifecycle/states.js'
import type { Requests } from '../../transport/nats/requests.js'
import type { Wire } from '../../transport/nats/wire.js'
import type { BackendError } from '../../errors.js'
import type { TaskMeta } from '../backend.js'
import type { LargeResults } from './large-results.js'
import { acrossReconnects } from './reconnect.js'
import { encodeRecord, type StoredMeta } from './record.js'

/**
 * Room left under the server's `max_payload` for what travels with a KV value (headers such as
 * an expected-revision check). A record that does not fit under the rest moves its result out.
 */
const PAYLOAD_MARGIN_BYTES = 4_096
/**
 * How long a record write waits for its JetStream ack before it is sent again (within
 * `acrossReconnects`' 30 s). Shorter than JetStream's 5 s: when the bucket's leader is lost the
 * write is gone with it, and the retry reaches the new leader as soon as one is elected. A
 * write sent twice stores the same record twice, which changes nothing.
 */
const STORE_ACK_TIMEOUT_MS = 2_000
/** The server default, for the moment before the connection has the server's INFO. */
const DEFAULT_MAX_PAYLOAD = 1_048_576

/** What a write goes through: the backend's connection, bucket, object store and reply mux. */
export interface WriteTarget {
  nc: NatsConnection
  kv: KV
  large: LargeResults
  /** The connection's reply mux: writes wait for their JetStream ack through it. */
  requests: Requests
  /** The connection's fast publishes: the push to the sender goes through it. */
  wire: Wire
}

const ignore = (): void => undefined

/**
 * Writes task records to the bucket. A task's records are written in the order they were
 * stored, even when one is retried (a STARTED resent after a timeout must not land after
 * SUCCESS). Not async, nor is the common path below it: every task's result goes through here,
 * and each async layer costs a frame and a promise (the worker's main thread, 20,000 warm tasks).
 */
export class RecordWrites {
  readonly #bucket: string
  readonly #error: (what: string, key: string, cause: unknown) => BackendError
  /** The write in flight per key. */
  readonly #pending = new Map<string, Promise<void>>()

  constructor(bucket: string, error: (what: string, key: string, cause: unknown) => BackendError) {
    this.#bucket = bucket
    this.#error = error
  }

  /** Writes `meta` under `key` once the key's earlier writes are done; resolves once it is stored. */
  write(target: WriteTarget, key: string, meta: TaskMeta): Promise<void> {
    const previous = this.#pending.get(key)
    const write = previous === undefined ? this.#write(target, key, meta) : previous.then(ignore, ignore).then(() => this.#write(target, key, meta))
    this.#pending.set(key, write)
    return write.finally(() => {
      if (this.#pending.get(key) === write) this.#pending.delete(key)
    })
  }

  /** Resolves once every write begun so far has settled, stored or failed. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending.values()])
  }

  #write(target: WriteTarget, key: string, meta: TaskMeta): Promise<void> {
    const { nc, requests, wire } = target
    let bytes: Uint8Array
    try {
      bytes = encodeRecord(meta)
    } catch (error) {
      return Promise.reject(error)
    }
    const limit = (nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - PAYLOAD_MARGIN_BYTES
    if (bytes.byteLength > limit) return this.#writeLarge(target, key, meta, bytes, limit)
    // A JetStream publish on the key's subject is what `kv.put` sends; here its PubAck
    // comes back through the connection's reply mux (requests.ts), without the Error,
    // timer and promise chain nats.js builds per request. The write resolves only once the
    // stream has the record: the worker acks the task after it, so a broker restart loses
    // no result (issue 13: with a core publish and a PING/PONG flush, 32 of 136,304 writes
    // reported done were lost across four server SIGKILLs; a PONG proves the server read
    // the bytes, not that the stream stored them).
    // Measured with `npm run bench:nats` (20,000 no-op tasks, 2 threads; 2 shared cores
    // under load 9-19, so noisy): medians of 4 interleaved runs, end to end tasks/s and
    // round trip p50: core publish + flush (before) 4,605 and 0.83 ms; kv.put 5,009 and
    // 0.91 ms; this publish with its PubAck through the mux 5,472 and 0.80 ms. The ack
    // costs no throughput here: the flush was a round trip per turn as well.
    const acked = acrossReconnects(nc, () => requests.publish(`$KV.${this.#bucket}.${key}`, bytes, undefined, STORE_ACK_TIMEOUT_MS))
    // The sender hears of a ready record (see NatsKvBackend.push) right behind the write, on the
    // same connection: the server has the record first, and the sender need not wait for the ack.
    const push = pushTo(meta)
    if (push !== undefined) {
      try {
        wire.publish(push, bytes)
      } catch {
        // Only a closed connection refuses it here (the subject was checked on receipt, the
        // size above), and then the write fails too: its error, below, is the one reported.
      }
    }
    return acked.then(ignore, (error: unknown) => {
      throw this.#error(`cannot store task ${meta.taskId}`, key, error)
    })
  }

  /** {@link #write} of a record over the server's payload limit. */
  async #writeLarge({ nc, kv, large, requests, wire }: WriteTarget, key: string, meta: TaskMeta, bytes: Uint8Array, limit: number): Promise<void> {
    if (meta.result !== undefined) {
      // The object first, then the record: a reader never sees a reference to nothing.
      const { result, ...rest } = meta
      const stored: StoredMeta = { ...rest, resultRef: await large.put(key, result) }
      bytes = encodeRecord(stored)
    }
    const push = pushTo(meta)
    try {
      if (bytes.byteLength > limit) {
        // Still too large (the record itself, not its result): the server refuses it with a reason.
        await acrossReconnects(nc, () => kv.put(key, bytes))
        if (push !== undefined) wire.publish(push, bytes)
      } else {
        const acked = acrossReconnects(nc, () => requests.publish(`$KV.${this.#bucket}.${key}`, bytes, undefined, STORE_ACK_TIMEOUT_MS))
        if (push !== undefined) wire.publish(push, bytes)
        await acked
      }
    } catch (error) {
      throw this.#error(`cannot store task ${meta.taskId}`, key, error)
    }
  }
}

/** Where a ready record is pushed: the sender's reply subject, for a ready state only. */
function pushTo(meta: TaskMeta): string | undefined {
  return meta.replyTo !== undefined && READY_STATES.has(meta.state) ? meta.replyTo : undefined
}
