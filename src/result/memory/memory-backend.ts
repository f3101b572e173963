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

/**
 * The records of one `memory://` name: what a JetStream KV bucket is to the NATS backend.
 * Every {@link MemoryBackend} built on the same store sees the same records and watches.
 *
 * @remarks
 * Records are kept in a Map in the order they were last stored (a store re-inserts), so the
 * oldest come first and pruning stops at the first record still alive. Expiry is the
 * backend's business, not the store's: backends that share a store should share
 * `resultExpiresMs`, as NATS backends share a bucket's TTL.
 */
export class MemoryResultStore {
  readonly name: string
  #records = new Map<string, StoredRecord>()
  #watchers = new Map<string, MetaListener | MetaListener[]>()
  /** Chords waiting for their header, with the members done so far; removed once complete. */
  readonly chords = new Map<string, { record: ChordRecord; done: Set<number> }>()

  constructor(name = '') {
    this.name = name
  }

  /** Records held, expired ones not yet pruned included. */
  get size(): number {
    return this.#records.size
  }

  /** Stores a shallow copy of `meta`, stamped `at`, and hands it to the id's watchers. */
  put(meta: TaskMeta, at: number): void {
    const id = meta.taskId
    const copy = { ...meta }
    const old = this.#records.get(id)
    if (old === undefined) {
      this.#records.set(id, { meta: copy, at })
    } else {
      // Re-inserting moves the id to the end, keeping the Map ordered by store time.
      this.#records.delete(id)
      old.meta = copy
      old.at = at
      this.#records.set(id, old)
    }
    if (this.#watchers.size !== 0) this.#notify(id, copy)
  }

  /** The stored record and its time; the record is shared and must not be mutated. */
  read(taskId: string): Readonly<StoredRecord> | undefined {
    return this.#records.get(taskId)
  }

  /** Removes a record; watches on its id stay in place, as KV watches outlive a delete. */
  delete(taskId: string): void {
    this.#records.delete(taskId)
  }

  /** Removes records stored at or before `cutoff`, oldest first; returns how many. */
  prune(cutoff: number): number {
    let removed = 0
    for (const [id, record] of this.#records) {
      if (record.at > cutoff) break
      this.#records.delete(id)
      removed++
    }
    return removed
  }

  /** Calls `listener` with every record later stored for `taskId`; returns the unwatch function. */
  watch(taskId: string, listener: MetaListener): () => void {
    const current = this.#watchers.get(taskId)
    // Nearly every id has one watcher: store it bare. Lists are copied on write, so a listener
    // that unwatches during delivery does not disturb the loop.
    this.#watchers.set(taskId, current === undefined ? listener : typeof current === 'function' ? [current, listener] : [...current, listener])
    let active = true
    return () => {
      if (!active) return
      active = false
      const now = this.#watchers.get(taskId)
      if (now === listener) this.#watchers.delete(taskId)
      else if (Array.isArray(now)) {
        const rest = now.filter((l) => l !== listener)
        this.#watchers.set(taskId, rest.length === 1 ? rest[0] : rest)
      }
    }
  }

  /** Drops every record (watches stay). For tests. */
  clear(): void {
    this.#records.clear()
    this.chords.clear()
  }

  #notify(taskId: string, record: TaskMeta): void {
    const watchers = this.#watchers.get(taskId)
    if (watchers === undefined) return
    if (typeof watchers === 'function') return deliver(watchers, record)
    for (const listener of watchers) deliver(listener, record)
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
