import type { JetStreamManager } from '@nats-io/jetstream'
import { Kvm, type KV, type KvEntry } from '@nats-io/kv'
import { nanos } from '@nats-io/transport-node'
import { refusalIn } from './permission-watch.js'
import { TransportError } from '../../errors.js'
import type { Clock } from '../../util/clock.js'
import type { RevokedIds } from '../transport.js'
import { KvMirror } from './kv-mirror.js'
import { token, untoken } from './names.js'
import { openBucket } from './replicas.js'

const encoder = new TextEncoder()
// Expired ids are dropped from a view's map on this many writes, so it does not grow forever.
const PRUNE_EVERY = 1024

/**
 * Revoked task ids in a KV bucket: key = the id (as a {@link token}), value = when the
 * revocation ends (epoch ms).
 *
 * @remarks
 * On 2.9 a KV TTL is bucket-wide (per-key TTL needs 2.11). The bucket is created with the
 * TTL of the first revoke and raised when a later revoke asks for longer, so the server keeps
 * every id at least as long as asked; each id's own end time, in its value, is what views
 * check, so an id never reads as revoked past its own TTL. A bucket created by a view before
 * any revoke has no TTL until the first revoke sets one.
 */
export class RevokedStore {
  readonly #kvm: Kvm
  readonly #jsm: JetStreamManager
  readonly #bucket: string
  readonly #clock: Clock
  readonly #replicas: number
  #kv: Promise<KV> | undefined
  // The bucket's TTL as last seen, ms; 0 means none.
  #ttlMs = -1

  constructor(kvm: Kvm, jsm: JetStreamManager, bucket: string, clock: Clock, replicas = 1) {
    this.#replicas = replicas
    this.#kvm = kvm
    this.#jsm = jsm
    this.#bucket = bucket
    this.#clock = clock
  }

  /** Marks `id` revoked for `ttlMs`, for every node. */
  async revoke(id: string, ttlMs: number): Promise<void> {
    try {
      const kv = await this.#open(ttlMs)
      await this.#raiseTtl(kv, ttlMs)
      await kv.put(token(id), encoder.encode(String(this.#clock.now() + ttlMs)))
    } catch (error) {
      throw refusalIn(error) ?? new TransportError(`cannot revoke task "${id}": ${(error as Error).message}`, { cause: error })
    }
  }

  /** A live view: loaded from the bucket's current keys, kept current by a watch. */
  async view(): Promise<RevokedIds> {
    const clock = this.#clock
    const until = new Map<string, number>()
    let writes = 0
    const prune = () => {
      const now = clock.now()
      for (const [id, end] of until) if (end <= now) until.delete(id)
    }
    const apply = (entry: KvEntry) => {
      const id = untoken(entry.key)
      if (entry.operation !== 'PUT') until.delete(id)
      else until.set(id, Number(entry.string()))
      if (++writes % PRUNE_EVERY === 0) prune()
    }
    let mirror: KvMirror
    try {
      mirror = new KvMirror(await this.#open(0), apply)
      await mirror.start()
    } catch (error) {
      throw new TransportError(`cannot read revoked task ids: ${(error as Error).message}`, { cause: error })
    }
    // The server emits nothing when a key expires, so expiry is checked here against each id's end.
    return {
      has: (id) => {
        const end = until.get(id)
        return end !== undefined && end > clock.now()
      },
      list: () => {
        prune()
        return [...until.keys()]
      },
      note: (id, end) => {
        if ((until.get(id) ?? 0) < end) until.set(id, end)
      },
      close: () => mirror.stop(),
    }
  }

  /** Opens the bucket, creating it (with `ttlMs`, 0 for none) when it does not exist. */
  #open(ttlMs: number): Promise<KV> {
    this.#kv ??= (async () => {
      // create() opens the bucket when it exists, keeping its TTL.
      try {
        return await openBucket(this.#kvm, this.#jsm, this.#bucket, { history: 1, ttl: ttlMs }, this.#replicas, 'the revoked bucket')
      } catch {
        // Created by another node meanwhile with another TTL: this time it exists.
        return await openBucket(this.#kvm, this.#jsm, this.#bucket, { history: 1, ttl: ttlMs }, this.#replicas, 'the revoked bucket')
      }
    })()
    this.#kv.catch(() => (this.#kv = undefined))
    return this.#kv
  }

  async #raiseTtl(kv: KV, ttlMs: number): Promise<void> {
    if (this.#ttlMs !== 0 && this.#ttlMs >= ttlMs) return
    const status = await kv.status()
    this.#ttlMs = status.ttl
    if (status.ttl !== 0 && status.ttl >= ttlMs) return
    const { name, duplicate_window } = status.streamInfo.config
    // The server refuses a duplicate window longer than the max age.
    const window = duplicate_window ? Math.min(duplicate_window, nanos(ttlMs)) : undefined
    await this.#jsm.streams.update(name, { max_age: nanos(ttlMs), ...(window ? { duplicate_window: window } : {}) })
    this.#ttlMs = ttlMs
  }
}
