/**
 * Chord joins on NATS KV: the chord's record under `<id>`, and the members done so far as a
 * bitmap under `<id>.done`, updated by compare-and-set on the key's revision.
 * @module
 */
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import { openBucket } from '../../transport/nats/replicas.js'
import { Kvm } from '@nats-io/kv'
import { BackendError, InvalidArgumentError } from '../../errors.js'
import { msgpackCodec } from '../../serialization/codec.js'
import { acrossReconnects } from './reconnect.js'
import { taskKey } from './task-key.js'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import type { ChordRecord } from '../../canvas/data.js'
import type { LargeResults } from './large-results.js'

interface Part {
  indices: readonly number[]
  resolve(record: ChordRecord | undefined): void
  reject(error: unknown): void
}

/** Parts of one chord reported in this process, joined by one compare-and-set loop at a time. */
interface Join {
  size: number
  queued: Part[]
}

/**
 * A bitmap rather than a counter makes a report idempotent: a member redelivered after it was
 * counted (acks late, a node lost) sets a bit already set and completes nothing. Reports of
 * one chord made while a compare-and-set is in flight wait and go together in the next one, so
 * a 10,000-member chord costs far fewer than 10,000 round trips.
 */
export class NatsChords {
  readonly bucket: string
  readonly #nc: NatsConnection
  readonly #ttlMs: number
  readonly #large: LargeResults
  readonly #replicas: number
  readonly #joins = new Map<string, Join>()
  #kv: Promise<KV> | undefined

  constructor(nc: NatsConnection, bucket: string, ttlMs: number, large: LargeResults, replicas = 1) {
    this.#replicas = replicas
    this.#nc = nc
    this.bucket = bucket
    this.#ttlMs = ttlMs
    this.#large = large
  }

  async start(chord: ChordRecord): Promise<void> {
    const kv = await this.#open()
    const key = taskKey(chord.id)
    let bytes = msgpackCodec.encode(chord)
    const limit = (this.#nc.info?.max_payload ?? 1_048_576) - 4_096
    if (bytes.byteLength > limit) {
      // A header of tens of thousands of members: the record goes to the object store.
      const ref = await this.#large.put(`chord-${key}`, bytes)
      bytes = msgpackCodec.encode({ ref })
    }
    try {
      await acrossReconnects(this.#nc, () => kv.put(key, bytes))
    } catch (error) {
      throw this.#error(`cannot store chord ${chord.id}`, error)
    }
  }

  partReturn(id: string, indices: readonly number[], size: number): Promise<ChordRecord | undefined> {
    for (const index of indices) {
      if (!Number.isInteger(index) || index < 0 || index >= size) {
        return Promise.reject(new InvalidArgumentError(`chord ${id}: member index ${index} is out of range for ${size} members`))
      }
    }
    return new Promise((resolve, reject) => {
      let join = this.#joins.get(id)
      if (join === undefined) {
        join = { size, queued: [] }
        this.#joins.set(id, join)
        join.queued.push({ indices, resolve, reject })
        void this.#run(id, join)
      } else {
        join.queued.push({ indices, resolve, reject })
      }
    })
  }

  async #run(id: string, join: Join): Promise<void> {
    while (join.queued.length > 0) {
      const parts = join.queued.splice(0)
      try {
        const completed = await this.#mark(id, join.size, parts.flatMap((p) => p.indices))
        // Exactly one report completes the chord: the first of the batch that did.
        parts.forEach((part, i) => part.resolve(i === 0 ? completed : undefined))
      } catch (error) {
        for (const part of parts) part.reject(error)
      }
    }
    this.#joins.delete(id)
  }

  /** Sets the members' bits; returns the chord's record when this update set the last one. */
  async #mark(id: string, size: number, indices: number[]): Promise<ChordRecord | undefined> {
    const kv = await this.#open()
    const key = `${taskKey(id)}.done`
    for (;;) {
      const entry = await acrossReconnects(this.#nc, () => kv.get(key)).catch((error: unknown) => {
        throw this.#error(`cannot read chord ${id}`, error)
      })
      const exists = entry !== null && entry.operation === 'PUT'
      const bits = exists ? Uint8Array.from(entry.value) : new Uint8Array(Math.ceil(size / 8))
      let changed = false
      for (const index of indices) {
        const mask = 1 << (index & 7)
        if ((bits[index >> 3] & mask) === 0) {
          bits[index >> 3] |= mask
          changed = true
        }
      }
      if (!changed) return undefined
      try {
        if (exists) await kv.update(key, bits, entry.revision)
        else await kv.create(key, bits)
      } catch (error) {
        // Another process updated it first: read again and retry.
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) continue
        throw this.#error(`cannot update chord ${id}`, error)
      }
      return countBits(bits) === size ? this.#record(kv, id) : undefined
    }
  }

  async #record(kv: KV, id: string): Promise<ChordRecord> {
    const entry = await acrossReconnects(this.#nc, () => kv.get(taskKey(id)))
    if (entry === null || entry.operation !== 'PUT') throw new BackendError(`nats backend: chord ${id} is complete but its record is gone (expired?) from bucket ${this.bucket}`)
    const stored = msgpackCodec.decode(entry.value) as ChordRecord | { ref: { object: string; size: number } }
    if (!('ref' in stored)) return stored
    const bytes = await this.#large.get(stored.ref)
    if (bytes === undefined) throw new BackendError(`nats backend: the record of chord ${id} is missing from object store ${this.#large.bucket}`)
    return msgpackCodec.decode(bytes) as ChordRecord
  }

  #open(): Promise<KV> {
    this.#kv ??= jetstreamManager(this.#nc).then((jsm) => openBucket(new Kvm(jetstream(this.#nc)), jsm, this.bucket, { history: 1, ttl: this.#ttlMs }, this.#replicas, 'the chords bucket')).catch((error: unknown) => {
      this.#kv = undefined
      throw this.#error('cannot open the chords bucket', error)
    })
    return this.#kv
  }

  #error(what: string, cause: unknown): BackendError {
    if (cause instanceof BackendError) return cause
    return new BackendError(`nats backend: ${what} (bucket ${this.bucket}): ${(cause as Error)?.message ?? String(cause)}`, { cause })
  }
}

function countBits(bits: Uint8Array): number {
  let count = 0
  for (let byte of bits) {
    while (byte !== 0) {
      byte &= byte - 1
      count++
    }
  }
  return count
}
