/**
 * Task records on the wire: a {@link TaskMeta} encoded with msgpack, for the `nats://` and
 * `rpc://` result backends.
 * @module
 */
import { BackendError } from '../../errors.js'
import { msgpackCodec } from '../../serialization/codec.js'
import type { MetaListener, TaskMeta } from '../backend.js'

/** Where a result too large for one message was put instead (an object store entry). */
export interface ResultRef {
  /** Object name in the backend's `<bucket>-large` object store. */
  object: string
  /** Result size in bytes, to check what comes back. */
  size: number
}

/**
 * A record as stored: a {@link TaskMeta}, or one whose `result` was moved out to the object
 * store and replaced by `resultRef`. The field name cannot clash: TaskMeta has no such field.
 */
export type StoredMeta = TaskMeta & { resultRef?: ResultRef }

/** Encodes a record; msgpack keeps the `Uint8Array` result and the nested `WireError`. */
export function encodeRecord(meta: StoredMeta): Uint8Array {
  return msgpackCodec.encode(meta)
}

/**
 * Decodes a record, checking its shape: bytes written by something other than celeriac must
 * not reach a listener as a TaskMeta. `where` names the bucket and key (or subject) for the error.
 */
export function decodeRecord(bytes: Uint8Array, where: string): StoredMeta {
  let value: unknown
  try {
    value = msgpackCodec.decode(bytes)
  } catch (error) {
    throw new BackendError(`cannot decode the task record at ${where}: ${(error as Error).message}`, { cause: error })
  }
  const meta = value as Partial<StoredMeta> | null
  if (typeof meta !== 'object' || meta === null || typeof meta.taskId !== 'string' || typeof meta.state !== 'string') {
    throw new BackendError(`the value at ${where} is not a task record (expected an object with taskId and state)`)
  }
  // An error that is not one as celeriac writes it (a bare string) would become an Error
  // without a message: it is kept as the message of one that says where it came from.
  const error: unknown = meta.error
  if (error !== undefined && (typeof error !== 'object' || error === null || typeof (error as { message?: unknown }).message !== 'string')) {
    meta.error = { type: 'BackendError', code: 'ERR_BACKEND', message: `the record at ${where} holds an error celeriac did not write: ${JSON.stringify(error) ?? String(error)}` }
  }
  return meta as StoredMeta
}

/**
 * Calls a watch listener. One faulty listener must neither break the watch nor starve the
 * others; its error still surfaces, as the memory backend (and an EventTarget) surface theirs.
 */
export function deliver(listener: MetaListener, meta: TaskMeta): void {
  try {
    listener(meta)
  } catch (error) {
    queueMicrotask(() => {
      throw error
    })
  }
}

/**
 * Reports a record a watch could not deliver (undecodable bytes, a lost large result). A
 * warning, not a throw: a stranger's write to the bucket must not crash the process.
 */
export function warnUndeliverable(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : new BackendError(String(error)), { code: 'CELERIAC_BACKEND_WATCH' })
}
