/**
 * Cluster-wide rate limits on NATS KV: one key per limit holding when its next slot is free
 * (epoch ms, as text), moved on by compare-and-set on the key's revision.
 * @module
 */
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream'
import type { Kvm, KV } from '@nats-io/kv'
import { TransportError } from '../../errors.js'
import type { Clock } from '../../util/clock.js'
import { rateKey } from './names.js'
import { openBucket, untilAnswered } from './replicas.js'

const encoder = new TextEncoder()

interface Waiter {
  intervalMs: number
  resolve(waitMs: number): void
  reject(error: unknown): void
}

/** What this process last knew of one limit, and the reservations waiting for its next update. */
interface Limit {
  name: string
  /** Epoch ms of the next free slot, as of `revision`. */
  nextFree: number
  /** Revision of the key as last seen; 0 = no such key; -1 = unknown, read it first. */
  revision: number
  queued: Waiter[]
  running: boolean
}

/**
 * The slots of every limit, shared by every process on the server.
 *
 * @remarks
 * The last value and revision of each key are cached, so an uncontended reservation is one
 * request (the compare-and-set); a process that lost the race to another reads the key again
 * and retries. Reservations made in this process while an update is in flight go together in
 * the next one, which takes one slot for each: a burst costs one round trip, not one per task.
 * Slots are compared with this process's clock: the nodes' clocks are assumed synchronised
 * (NTP); a node whose clock is ahead pushes the limit's slots later for everyone, one behind
 * may run a task early by its skew.
 */
export class RateLimits {
  readonly #kvm: Kvm
  readonly #jsm: JetStreamManager
  readonly #replicas: number
  readonly #bucket: string
  readonly #clock: Clock
  readonly #limits = new Map<string, Limit>()
  #kv: Promise<KV> | undefined

  constructor(kvm: Kvm, jsm: JetStreamManager, bucket: string, clock: Clock, replicas = 1) {
    this.#jsm = jsm
    this.#replicas = replicas
    this.#kvm = kvm
    this.#bucket = bucket
    this.#clock = clock
  }

  /** Reserves the next slot of `name`; resolves to the ms to wait for it (0 = now). */
  reserve(name: string, intervalMs: number): Promise<number> {
    const key = rateKey(name)
    let limit = this.#limits.get(key)
    if (limit === undefined) this.#limits.set(key, (limit = { name, nextFree: 0, revision: -1, queued: [], running: false }))
    const queued = limit.queued
    const promise = new Promise<number>((resolve, reject) => queued.push({ intervalMs, resolve, reject }))
    if (!limit.running) void this.#run(key, limit)
    return promise
  }

  async #run(key: string, limit: Limit): Promise<void> {
    limit.running = true
    while (limit.queued.length > 0) {
      const batch = limit.queued.splice(0)
      try {
        const slots = await this.#take(key, limit, batch)
        // Measured after the round trip, so a slow reply does not push the run past its slot.
        const now = this.#clock.now()
        batch.forEach((waiter, i) => waiter.resolve(Math.max(0, slots[i] - now)))
      } catch (error) {
        const failure = new TransportError(`cannot reserve a slot of rate limit "${limit.name}": ${(error as Error).message}`, { cause: error })
        for (const waiter of batch) waiter.reject(failure)
      }
    }
    limit.running = false
  }

  /**
   * Moves the key on by one interval per waiter; returns each waiter's slot (epoch ms). A
   * request the server did not answer in time (a loaded or failing-over server) may or may not
   * have moved the key: the next attempt reads it again, for up to 30 s. A slot taken by an
   * attempt that timed out is left unused, never given twice.
   */
  #take(key: string, limit: Limit, batch: Waiter[]): Promise<number[]> {
    return untilAnswered(() => this.#attempt(key, limit, batch))
  }

  async #attempt(key: string, limit: Limit, batch: Waiter[]): Promise<number[]> {
    const opened = this.#open()
    const kv = await opened
    for (;;) {
      try {
        if (limit.revision < 0) {
          const entry = await kv.get(key)
          // A deleted or purged key reads as free; its revision is what the next write expects.
          limit.revision = entry?.revision ?? 0
          const value = entry?.operation === 'PUT' ? Number(entry.string()) : 0
          limit.nextFree = Number.isFinite(value) ? value : 0
        }
        let cursor = Math.max(this.#clock.now(), limit.nextFree)
        const slots = batch.map((waiter) => {
          const at = cursor
          cursor += waiter.intervalMs
          return at
        })
        const value = encoder.encode(String(cursor))
        limit.revision = limit.revision === 0 ? await kv.create(key, value) : await kv.update(key, value, limit.revision)
        limit.nextFree = cursor
        return slots
      } catch (error) {
        limit.revision = -1
        // Another process moved the limit on first: read it again and retry.
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) continue
        // The next reservation opens the bucket again, creating it if it was deleted.
        if (this.#kv === opened) this.#kv = undefined
        throw error
      }
    }
  }

  /** Opens the bucket on first use, so a transport that never reserves creates nothing. */
  #open(): Promise<KV> {
    if (this.#kv === undefined) {
      // create() opens the bucket when it exists, keeping its configuration.
      this.#kv = openBucket(this.#kvm, this.#jsm, this.#bucket, { history: 1 }, this.#replicas, 'the rate-limit bucket')
      this.#kv.catch(() => (this.#kv = undefined))
    }
    return this.#kv
  }
}
