import type { KV, KvEntry } from '@nats-io/kv'
import type { QueuedIterator } from '@nats-io/transport-node'

// A sync waits at most this long for the watch to catch up, then answers from what it has:
// a slow watch must not stall publishing.
const SYNC_TIMEOUT_MS = 2_000

/**
 * Keeps a local copy of a KV bucket current through a watch: every entry (the current value of
 * each key at start, then each change) goes to `onEntry`, in revision order.
 *
 * @remarks
 * `sync()` waits until the copy holds every write the bucket had when `sync` was called: a
 * reader that misses something asks once, then trusts the copy again.
 */
export class KvMirror {
  readonly #kv: KV
  readonly #onEntry: (entry: KvEntry) => void
  #watch: QueuedIterator<KvEntry> | undefined
  #revision = 0
  #waiters: { revision: number; resolve: () => void }[] = []

  constructor(kv: KV, onEntry: (entry: KvEntry) => void) {
    this.#kv = kv
    this.#onEntry = onEntry
  }

  /** Starts the watch and resolves once the current contents are loaded. */
  async start(): Promise<void> {
    const watch = await this.#kv.watch()
    this.#watch = watch
    void this.#run(watch)
    await this.sync()
  }

  /** Resolves once every write made before the call is in the copy (or after a timeout). */
  async sync(): Promise<void> {
    const { state } = (await this.#kv.status()).streamInfo
    // With history 1 the newest message is a live value or a delete marker, so the watch
    // delivers it; an empty stream (everything expired) has nothing to wait for.
    if (state.messages === 0 || this.#revision >= state.last_seq) return
    await new Promise<void>((resolve) => {
      const waiter = { revision: state.last_seq, resolve }
      const timer = setTimeout(() => this.#settle(waiter), SYNC_TIMEOUT_MS).unref()
      waiter.resolve = () => {
        clearTimeout(timer)
        resolve()
      }
      this.#waiters.push(waiter)
    })
  }

  /** Stops the watch. */
  stop(): void {
    this.#watch?.stop()
    this.#watch = undefined
    for (const waiter of this.#waiters) waiter.resolve()
    this.#waiters = []
  }

  async #run(watch: QueuedIterator<KvEntry>): Promise<void> {
    try {
      for await (const entry of watch) {
        try {
          this.#onEntry(entry)
        } catch {
          // A malformed record written by someone else must not stop the mirror.
        }
        this.#revision = Math.max(this.#revision, entry.revision)
        if (this.#waiters.length > 0) {
          for (const waiter of this.#waiters.filter((w) => w.revision <= this.#revision)) this.#settle(waiter)
        }
      }
    } catch {
      // The watch ends with the connection; close() or the owner's reconnect handles the rest.
    }
  }

  #settle(waiter: { resolve: () => void }): void {
    this.#waiters = this.#waiters.filter((w) => w !== waiter)
    waiter.resolve()
  }
}
