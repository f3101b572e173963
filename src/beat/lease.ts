import { LEASE_KEY, type BeatStore } from './store.js'
import type { Clock } from '../util/clock.js'

/** The lease as stored: who holds it and for how long each write keeps it. */
interface LeaseValue {
  holder: string
  leaseMs: number
  /** Written by a holder that stopped: anyone may take it at once. */
  released?: boolean
}

/**
 * The leader lease of a group of beats: one key in the shared {@link BeatStore}, taken with
 * `create` and renewed or taken over with a compare-and-set `update`.
 *
 * @remarks
 * A lease expires by time, without any clock shared between hosts: a reader takes a lease
 * over only after seeing the same revision for the holder's `leaseMs` on its own clock, and a
 * holder stops firing `leaseMs` after it sent its last successful renewal. The holder's time
 * runs out before any reader's does, so two beats never both think they lead (given clocks
 * that tick at about the same rate). Renew well within `leaseMs`: a third of it.
 */
export class Lease {
  readonly holder: string
  readonly leaseMs: number
  readonly #store: BeatStore
  readonly #clock: Clock
  #validUntil = 0
  #revision = 0
  /** The revision of someone else's lease and when this beat first saw it. */
  #seen: { revision: number; since: number } | undefined

  constructor(store: BeatStore, options: { holder: string; leaseMs: number; clock: Clock }) {
    this.#store = store
    this.holder = options.holder
    this.leaseMs = options.leaseMs
    this.#clock = options.clock
  }

  /** Whether this beat leads now. */
  get held(): boolean {
    return this.#clock.now() < this.#validUntil
  }

  /** Acquires, renews or takes over the lease when it can; resolves to whether this beat leads. */
  async refresh(): Promise<boolean> {
    const sent = this.#clock.now()
    const current = await this.#store.get(LEASE_KEY)
    if (!current) return this.#won(await this.#store.create(LEASE_KEY, this.#value()), sent)
    const lease = parse(current.value)
    if (lease?.holder === this.holder) return this.#won(await this.#store.update(LEASE_KEY, this.#value(), current.revision), sent)
    this.#validUntil = 0
    const seenAt = this.#clock.now()
    if (this.#seen?.revision !== current.revision) this.#seen = { revision: current.revision, since: seenAt }
    // An unreadable lease is treated as one that was never renewed.
    const expired = !lease || lease.released === true || seenAt - this.#seen.since >= lease.leaseMs
    return expired ? this.#won(await this.#store.update(LEASE_KEY, this.#value(), current.revision), sent) : false
  }

  /** Gives the lease up, so a standby takes over at once instead of after `leaseMs`. */
  async release(): Promise<void> {
    if (!this.held) return
    this.#validUntil = 0
    await this.#store.update(LEASE_KEY, this.#value(true), this.#revision)
  }

  #won(revision: number | undefined, sent: number): boolean {
    if (revision === undefined) {
      this.#validUntil = 0
      return false
    }
    this.#revision = revision
    this.#seen = undefined
    this.#validUntil = sent + this.leaseMs
    return true
  }

  #value(released = false): string {
    const value: LeaseValue = { holder: this.holder, leaseMs: this.leaseMs }
    if (released) value.released = true
    return JSON.stringify(value)
  }
}

function parse(text: string): LeaseValue | undefined {
  try {
    const value = JSON.parse(text) as LeaseValue
    return typeof value?.holder === 'string' && typeof value.leaseMs === 'number' ? value : undefined
  } catch {
    return undefined
  }
}
