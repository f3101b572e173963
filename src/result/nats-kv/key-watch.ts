/**
 * Watches on single KV keys through the bucket's republish: every write to `$KV.<bucket>.<key>`
 * is republished by the server on `<base>.<key>`, and a watch is a plain core NATS subscription
 * to that subject.
 *
 * @remarks
 * A result backend starts one watch per waiting `get()`, possibly tens of thousands at once.
 * A JetStream consumer per watch (what `kv.watch()` does) costs several server requests each
 * and reached only 300-800 watch/unwatch cycles a second here; a subscription costs one
 * protocol line, and the watches started in one turn share one flush (the point from which the
 * server surely has them). Writes made before that point are read by the `get()` that follows
 * every watch (read-after-watch), so nothing is missed. Stream republish exists on 2.9.10.
 * @module
 */
import { acrossReconnects } from './reconnect.js'
import { resultBucketNames } from '../../transport/nats/names.js'
import type { NatsConnection, Subscription } from '@nats-io/transport-node'
import { wireOf, type Wire } from '../../transport/nats/wire.js'

/** A running key watch. */
export interface KeyWatch {
  stop(): void
}

/** One write to the watched key. */
export interface KeyUpdate {
  /** `PUT`, `DEL` or `PURGE`. */
  operation: string
  value: Uint8Array
  /** The stream sequence: the KV revision. */
  revision: number
}

/** The republish setting a bucket needs for {@link KeyWatches}. */
export function republishOf(bucket: string): { src: string; dest: string } {
  return resultBucketNames(bucket).republish
}

/** Watches on the keys of one bucket. */
export class KeyWatches {
  readonly #nc: NatsConnection
  readonly #wire: Wire
  readonly #base: string
  readonly #active = new Set<Subscription>()
  #flush: Promise<void> | undefined

  constructor(nc: NatsConnection, bucket: string) {
    this.#nc = nc
    this.#wire = wireOf(nc)
    this.#base = resultBucketNames(bucket).watchBase
  }

  /** Calls `onUpdate` with every later write to `key`, in order; resolves once the server has the watch. */
  async watch(key: string, onUpdate: (update: KeyUpdate) => void): Promise<KeyWatch> {
    const sub = this.#nc.subscribe(`${this.#base}.${key}`, {
      callback: (error, msg) => {
        if (error) return
        onUpdate({
          operation: msg.headers?.get('KV-Operation') || 'PUT',
          value: msg.data,
          revision: Number(msg.headers?.get('Nats-Sequence') ?? 0),
        })
      },
    })
    this.#active.add(sub)
    await this.flushSoon()
    return {
      stop: () => {
        if (this.#active.delete(sub)) sub.unsubscribe()
      },
    }
  }

  /** Sends `value` to the watchers of `key` as if it had been written, without writing it. */
  announce(key: string, value: Uint8Array): void {
    this.#wire.publish(`${this.#base}.${key}`, value)
  }

  /** Stops every watch. */
  stopAll(): void {
    for (const sub of this.#active) sub.unsubscribe()
    this.#active.clear()
  }

  /**
   * One PING for everything sent in this turn (subscriptions): each line is written before it,
   * so its PONG means the server has them all. Not for record writes: a PONG proves the server
   * read a publish, not that the stream stored it (those wait for their JetStream ack).
   */
  flushSoon(): Promise<void> {
    this.#flush ??= new Promise<void>((resolve, reject) => {
      queueMicrotask(() => {
        this.#flush = undefined
        // Subscriptions made while reconnecting are sent on reconnect; the flush waits for that.
        acrossReconnects(this.#nc, () => this.#nc.flush()).then(resolve, reject)
      })
    })
    return this.#flush
  }
}
