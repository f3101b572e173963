/**
 * The `memory://` result backend: records kept in this process, shared by name.
 * @module
 */
import { DEFAULTS } from '../../config/defaults.js'
import { toMs } from '../../util/duration.js'
import { BackendError, InvalidArgumentError } from '../../errors.js'
import { systemClock } from '../../util/clock.js'
import type { Clock, TimerHandle } from '../../util/clock.js'
import type { BackendCapabilities, ChordStore, LocalRecords, MetaListener, ResultBackend, TaskMeta } from '../backend.js'
import type { ChordRecord } from '../../canvas/data.js'

/** Celery's `result_expires` default: one day, in milliseconds. */
export const DEFAULT_RESULT_EXPIRES_MS = toMs(DEFAULTS.resultExpires, 'resultExpires')

// The sweep only walks expired records (they come first), so running it often costs little;
// the bounds keep a tiny expiry from spinning and a long one from holding memory for hours.
const MIN_SWEEP_MS = 1_000
const MAX_SWEEP_MS = 60_000

/** A record as a {@link MemoryResultStore} holds it. */
export interface StoredRecord {
  meta: TaskMeta
  /** When it was last stored (epoch ms, the writer's clock). */
  at: number
}

/** One task id in a store: its record once stored, and who watches it. */
interface Slot {
  /** The record; none while the id is only watched, or after its record was deleted. */
  meta: TaskMeta | undefined
  /** When the record was last stored (epoch ms, the writer's clock). */
  at: number
  /** Where the slot stands in the store's order (see {@link MemoryResultStore.prune}). */
  since: number
  watchers: MetaListener | MetaListener[] | undefined
}

/**
 * The records of one `memory://` name: what a JetStream KV bucket is to the NATS backend.
 * Every {@link MemoryBackend} built on the same store sees the same records and watches.
 *
 * @remarks
 * One Map entry per id holds both its record and its watchers: a store, a read or a watch is
 * one lookup, and delivering to the watchers none. Expiry is the backend's business, not the
 * store's: backends that share a store should share `resultExpiresMs`, as NATS backends share
 * a bucket's TTL.
 */
export class MemoryResultStore {
  readonly name: string
  readonly #slots = new Map<string, Slot>()
  #size = 0
  /** The `since` of the newest slot: `since` never decreases along the Map. */
  #lastSince = -Infinity
  /** Chords waiting for their header, with the members done so far; removed once complete. */
  readonly chords = new Map<string, { record: ChordRecord; done: Set<number> }>()

  constructor(name = '') {
    this.name = name
  }

  /** Records held, expired ones not yet pruned included. */
  get size(): number {
    return this.#size
  }

  /** Stores a shallow copy of `meta`, stamped `at`, and hands it to the id's watchers. */
  put(meta: TaskMeta, at: number): void {
    const id = meta.taskId
    const copy = { ...meta }
    const slot = this.#slots.get(id)
    if (slot === undefined) {
      this.#slots.set(id, { meta: copy, at, since: this.#stand(at), watchers: undefined })
      this.#size++
      return
    }
    if (slot.meta === undefined) this.#size++
    slot.meta = copy
    slot.at = at
    const watchers = slot.watchers
    if (watchers === undefined) return
    if (typeof watchers === 'function') return deliver(watchers, copy)
    for (const listener of watchers) deliver(listener, copy)
  }

  /** The stored record and its time; the record is shared and must not be mutated. */
  read(taskId: string): Readonly<StoredRecord> | undefined {
    const slot = this.#slots.get(taskId)
    return slot?.meta === undefined ? undefined : (slot as StoredRecord)
  }

  /** Removes a record; watches on its id stay in place, as KV watches outlive a delete. */
  delete(taskId: string): void {
    const slot = this.#slots.get(taskId)
    if (slot?.meta === undefined) return
    this.#size--
    if (slot.watchers === undefined) this.#slots.delete(taskId)
    else slot.meta = undefined
  }

  /**
   * Removes records stored at or before `cutoff`; returns how many.
   *
   * @remarks
   * A store does not move its slot (that would be two more lookups per store), so the Map is in
   * the order of each slot's `since`, not of its last store. The walk stops at the first slot
   * that stands after `cutoff`: every record behind it was stored later still. A slot before it
   * whose record was stored again since is moved behind the newest, once per walk.
   */
  prune(cutoff: number): number {
    let removed = 0
    const moved: [string, Slot][] = []
    for (const [id, slot] of this.#slots) {
      if (slot.since > cutoff) break
      this.#slots.delete(id)
      if (slot.meta !== undefined && slot.at <= cutoff) {
        slot.meta = undefined
        this.#size--
        removed++
      }
      if (slot.meta !== undefined || slot.watchers !== undefined) moved.push([id, slot])
    }
    // Set back after the walk, which would otherwise meet them again.
    for (const [id, slot] of moved) {
      slot.since = this.#stand(slot.meta === undefined ? cutoff : slot.at)
      this.#slots.set(id, slot)
    }
    return removed
  }

  /** Calls `listener` with every record later stored for `taskId`; returns the unwatch function. */
  watch(taskId: string, listener: MetaListener): () => void {
    let slot = this.#slots.get(taskId)
    if (slot === undefined) {
      slot = { meta: undefined, at: 0, since: this.#lastSince, watchers: undefined }
      this.#slots.set(taskId, slot)
    }
    const current = slot.watchers
    // Nearly every id has one watcher: it is kept bare. Lists are copied on write, so a listener
    // that unwatches during delivery does not disturb the loop.
    slot.watchers = current === undefined ? listener : typeof current === 'function' ? [current, listener] : [...current, listener]
    const watched = slot
    let active = true
    return () => {
      if (!active) return
      active = false
      const now = watched.watchers
      if (now === listener) watched.watchers = undefined
      else if (Array.isArray(now)) {
        const rest = now.filter((l) => l !== listener)
        watched.watchers = rest.length === 1 ? rest[0] : rest
      }
      // A slot with neither a record nor a watcher is dropped; one with watchers is never dropped.
      if (watched.watchers === undefined && watched.meta === undefined) this.#slots.delete(taskId)
    }
  }

  /** Drops every record (watches stay). For tests. */
  clear(): void {
    for (const [id, slot] of this.#slots) {
      if (slot.watchers === undefined) this.#slots.delete(id)
      else slot.meta = undefined
    }
    this.#size = 0
    this.chords.clear()
  }

  /** The `since` of a slot set at the end of the Map now, for a record stored at `at`. */
  #stand(at: number): number {
    this.#lastSince = Math.max(this.#lastSince, at)
    return this.#lastSince
  }
}

function deliver(listener: MetaListener, record: TaskMeta): void {
  try {
    listener(record)
  } catch (error) {
    // One faulty listener must neither fail the store nor starve the others; it still
    // surfaces, as an error thrown in an EventTarget listener does.
    queueMicrotask(() => {
      throw error
    })
  }
}

const STORES = new Map<string, MemoryResultStore>()

/**
 * The process-wide store for `name`: every `memory://` backend in a process shares one, and
 * `memory://other` names another.
 * @example
 * const a = new MemoryBackend({ store: memoryResultStore() })
 * const b = new MemoryBackend({ store: memoryResultStore() }) // sees a's results
 */
export function memoryResultStore(name = ''): MemoryResultStore {
  let store = STORES.get(name)
  if (store === undefined) {
    store = new MemoryResultStore(name)
    STORES.set(name, store)
  }
  return store
}

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /** Where records live. Default: `memoryResultStore('')`, the store of `memory://`. */
  store?: MemoryResultStore
  /** Time source for expiry and the sweep timer. Default: the system clock. */
  clock?: Clock
  /**
   * How long a record stays readable after it was last stored, in milliseconds. `0` or
   * `Infinity`: never expires (Celery's `result_expires = None`). Default: one day
   * ({@link DEFAULT_RESULT_EXPIRES_MS}).
   */
  resultExpiresMs?: number
}

const RESOLVED: Promise<void> = Promise.resolve()
const UNKNOWN: Promise<undefined> = Promise.resolve(undefined)

/**
 * A {@link ResultBackend} in this process's memory: the `memory://` default.
 *
 * @remarks
 * `store` is O(1) and allocates only the record copy and, for a new id, its slot; watchers are
 * called synchronously, before `store` returns. A listener receives the stored record itself,
 * shared with other listeners: it must not mutate it. `get` returns a copy. After `close`,
 * the backend's watches end and every call rejects with a {@link BackendError}.
 * @example
 * const backend = new MemoryBackend({ resultExpiresMs: 60_000 })
 * await backend.store({ taskId: 'a1', state: 'SUCCESS' })
 */
export class MemoryBackend implements ResultBackend {
  readonly kind = 'memory'
  readonly capabilities: BackendCapabilities = MEMORY_CAPABILITIES
  /** Chords kept in the store, shared by every backend on it. */
  readonly chords: ChordStore = {
    start: (chord) => this.#chordStart(chord),
    partReturn: (id, indices) => this.#chordPartReturn(id, indices),
  }
  /** Records read and watched in this process, without a promise (what `get()` waits on). */
  readonly local: LocalRecords = {
    read: (taskId) => {
      if (this.#closed) throw closedError()
      const record = this.#results.read(taskId)
      if (record === undefined || !this.#expired(record.at)) return record?.meta
      this.#results.delete(taskId)
      return undefined
    },
    watch: (taskId, listener) => {
      if (this.#closed) throw closedError()
      return this.#results.watch(taskId, (meta) => {
        if (!this.#closed) listener(meta)
      })
    },
  }
  /** The effective expiry in milliseconds; `0` means never. */
  readonly resultExpiresMs: number
  #results: MemoryResultStore
  #clock: Clock
  #sweepMs: number
  #sweep: TimerHandle | undefined
  #closed = false

  constructor(options: MemoryBackendOptions = {}) {
    const expires = options.resultExpiresMs ?? DEFAULT_RESULT_EXPIRES_MS
    if (typeof expires !== 'number' || !(expires >= 0)) {
      throw new InvalidArgumentError('options.resultExpiresMs must be a non-negative number of milliseconds')
    }
    this.resultExpiresMs = expires === Infinity ? 0 : expires
    this.#results = options.store ?? memoryResultStore()
    this.#clock = options.clock ?? systemClock
    this.#sweepMs = Math.min(Math.max(this.resultExpiresMs, MIN_SWEEP_MS), MAX_SWEEP_MS)
  }

  connect(): Promise<void> {
    return this.#closed ? Promise.reject(closedError()) : RESOLVED
  }

  close(): Promise<void> {
    this.#closed = true
    if (this.#sweep !== undefined) this.#clock.clearTimeout(this.#sweep)
    this.#sweep = undefined
    return RESOLVED
  }

  store(meta: TaskMeta): Promise<void> {
    if (this.#closed) return Promise.reject(closedError())
    if (typeof meta?.taskId !== 'string' || meta.taskId === '') {
      return Promise.reject(new InvalidArgumentError('meta.taskId must be a non-empty string'))
    }
    this.#results.put(meta, this.#clock.now())
    if (this.#sweep === undefined && this.resultExpiresMs !== 0) this.#scheduleSweep()
    return RESOLVED
  }

  get(taskId: string): Promise<TaskMeta | undefined> {
    if (this.#closed) return Promise.reject(closedError())
    const meta = this.local.read(taskId)
    return meta === undefined ? UNKNOWN : Promise.resolve({ ...meta })
  }

  forget(taskId: string): Promise<void> {
    if (this.#closed) return Promise.reject(closedError())
    this.#results.delete(taskId)
    return RESOLVED
  }

  watch(taskId: string, listener: MetaListener): Promise<() => void> {
    if (this.#closed) return Promise.reject(closedError())
    // A closed backend's watches end: the check costs less than tracking every watch.
    return Promise.resolve(this.local.watch(taskId, listener))
  }

  #chordStart(chord: ChordRecord): Promise<void> {
    if (this.#closed) return Promise.reject(closedError())
    this.#results.chords.set(chord.id, { record: chord, done: new Set() })
    return RESOLVED
  }

  #chordPartReturn(id: string, indices: readonly number[]): Promise<ChordRecord | undefined> {
    if (this.#closed) return Promise.reject(closedError())
    const chord = this.#results.chords.get(id)
    // Unknown: completed already (a member reported twice), or never started.
    if (chord === undefined) return UNKNOWN
    for (const index of indices) {
      if (!Number.isInteger(index) || index < 0 || index >= chord.record.size) {
        return Promise.reject(new InvalidArgumentError(`chord ${id}: member index ${index} is out of range for ${chord.record.size} members`))
      }
    }
    for (const index of indices) chord.done.add(index)
    if (chord.done.size < chord.record.size) return UNKNOWN
    this.#results.chords.delete(id)
    return Promise.resolve(chord.record)
  }

  #expired(at: number): boolean {
    return this.resultExpiresMs !== 0 && this.#clock.now() - at >= this.resultExpiresMs
  }

  #scheduleSweep(): void {
    this.#sweep = this.#clock.setTimeout(() => {
      this.#sweep = undefined
      this.#results.prune(this.#clock.now() - this.resultExpiresMs)
      // An empty store needs no sweep until the next store starts one.
      if (this.#results.size > 0) this.#scheduleSweep()
    }, this.#sweepMs)
  }
}

/** A process-local store: it keeps records and chords, and has no sender to push to. */
const MEMORY_CAPABILITIES: BackendCapabilities = Object.freeze({ stores: true, chords: true, announce: false, push: false, local: true })

function closedError(): BackendError {
  return new BackendError('memory backend is closed')
}
