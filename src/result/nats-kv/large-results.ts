/**
 * Results too large for one NATS message, kept in a JetStream object store next to the KV bucket.
 * @module
 */
import { jetstreamManager } from '@nats-io/jetstream'
import { Objm, StorageType } from '@nats-io/obj'
import { ensureReplicas } from '../../transport/nats/replicas.js'
import { BackendError } from '../../errors.js'
import type { NatsConnection } from '@nats-io/transport-node'
import type { ObjectStore } from '@nats-io/obj'
import type { ResultRef } from './record.js'

/**
 * How long an object outlives the bucket TTL. The object is written before its KV record, so
 * with equal TTLs it would expire a moment before the record that points to it; the grace
 * keeps every live record's result readable, and costs only a minute of disk.
 */
const EXPIRY_GRACE_MS = 60_000

/**
 * The `<bucket>-large` object store of one backend, opened (and created) on first use: most
 * apps never store a result over the message limit and never get the extra stream.
 *
 * @remarks
 * One object per task, named after its KV key. A later large result of the same task replaces
 * the object, so a watcher still resolving an earlier record may read the later bytes: last
 * write wins, as in the KV bucket itself. Tasks store at most one large result (their return
 * value), so this costs nothing in practice and saves tracking orphaned objects.
 */
export class LargeResults {
  /** The object store bucket name. */
  readonly bucket: string
  readonly #nc: NatsConnection
  readonly #ttlMs: number
  readonly #replicas: number
  #store: Promise<ObjectStore> | undefined

  constructor(nc: NatsConnection, bucket: string, resultExpiresMs: number, replicas = 1) {
    this.#replicas = replicas
    this.#nc = nc
    this.bucket = bucket
    this.#ttlMs = resultExpiresMs === 0 ? 0 : resultExpiresMs + EXPIRY_GRACE_MS
  }

  /** Stores `bytes` under `name` and returns the reference the KV record keeps. */
  async put(name: string, bytes: Uint8Array): Promise<ResultRef> {
    const store = await this.#open()
    try {
      await store.putBlob({ name }, bytes)
    } catch (error) {
      throw this.#error(`cannot store the large result ${name}`, error)
    }
    return { object: name, size: bytes.byteLength }
  }

  /** The result bytes a reference points to, or `undefined` when the object is gone. */
  async get(ref: ResultRef): Promise<Uint8Array | undefined> {
    const store = await this.#open()
    let bytes: Uint8Array | null
    try {
      bytes = await store.getBlob(ref.object)
    } catch (error) {
      throw this.#error(`cannot read the large result ${ref.object}`, error)
    }
    if (bytes === null) return undefined
    if (bytes.byteLength !== ref.size) {
      throw new BackendError(`large result ${ref.object} in object store ${this.bucket} has ${bytes.byteLength} bytes, its record says ${ref.size}`)
    }
    return bytes
  }

  /** Removes an object; a missing one is not an error. */
  async delete(name: string): Promise<void> {
    const store = await this.#open()
    try {
      await store.delete(name)
    } catch (error) {
      throw this.#error(`cannot delete the large result ${name}`, error)
    }
  }

  #open(): Promise<ObjectStore> {
    this.#store ??= new Objm(this.#nc)
      .create(this.bucket, { storage: StorageType.File, ttl: this.#ttlMs * 1_000_000, replicas: this.#replicas })
      .then(async (store) => {
        await ensureReplicas(await jetstreamManager(this.#nc), `OBJ_${this.bucket}`, this.#replicas, 'the large-results object store')
        return store
      })
      .catch((error: unknown) => {
        // A failed open (server down, no JetStream) must not stick: the next call tries again.
        this.#store = undefined
        throw this.#error('cannot open the object store', error)
      })
    return this.#store
  }

  #error(what: string, cause: unknown): BackendError {
    return new BackendError(`nats backend: ${what} (object store ${this.bucket}): ${(cause as Error)?.message ?? String(cause)}`, { cause })
  }
}
