/**
 * Ready records pushed to the process that sent the task, so that its `get()` needs no watch
 * and no read.
 * @module
 */
import type { NatsConnection, Status } from '@nats-io/transport-node'

/** A connection's status events, as {@link loseOnConnectionLoss} follows them; `stop` ends them. */
export type StatusEvents = AsyncIterable<Status> & { stop?: () => void }

interface Slot<T> {
  record?: T
  /** The record's size on the wire, counted against `maxBytes` while it is kept. */
  bytes?: number
  onRecord?: (record: T) => void
  onLost?: () => void
  /** When a `get()` began waiting for the push (performance.now()). */
  since?: number
}

/**
 * The tasks this process sent with its reply subject, and their ready records once pushed.
 *
 * @remarks
 * The worker that stores a task's ready record also publishes it to the task's `replyTo`.
 * Core NATS delivers that push at most once, so it is trusted only while nothing can have
 * been lost: the reply subscription was on the server before the task was sent (the backend
 * flushes it on connect), and the connection has not dropped since. {@link lose} ends that
 * trust for every task still waiting, whose `get()` then watches and reads as usual; so does
 * eviction of the oldest tasks, past `capacity` tasks or `maxBytes` of records kept. The
 * stored record is always the truth: a push only saves a `get()` from asking for it.
 *
 * A push can also be lost on the worker's side, where this process sees nothing: a worker
 * whose server dies just after it published. So a `get()` waits for its push at most
 * `graceMs`, then falls back to watching and reading (one sweep for all waiters). A task that
 * runs longer than that costs one watch, as it would without pushes.
 */
export class PushedRecords<T> {
  readonly capacity: number
  readonly maxBytes: number
  readonly graceMs: number
  readonly #slots = new Map<string, Slot<T>>()
  #bytes = 0
  #sweeper: ReturnType<typeof setInterval> | undefined

  constructor(capacity: number, maxBytes = Infinity, graceMs = Infinity) {
    this.capacity = capacity
    this.maxBytes = maxBytes
    this.graceMs = graceMs
  }

  /** Bytes of the records kept for a `get()` to come. */
  get bytes(): number {
    return this.#bytes
  }

  get size(): number {
    return this.#slots.size
  }

  /** A task is being sent with this process's reply subject: its ready record will come here. */
  expect(taskId: string): void {
    this.#drop(taskId)
    this.#slots.set(taskId, {})
    if (this.#slots.size > this.capacity) this.#dropOldest()
  }

  /** A ready record arrived: to its waiter, or kept for the `get()` to come. Unexpected ones are ignored. */
  arrive(taskId: string, record: T, bytes: number): void {
    const slot = this.#slots.get(taskId)
    if (slot === undefined || slot.record !== undefined) return
    if (slot.onRecord === undefined) {
      slot.record = record
      slot.bytes = bytes
      this.#bytes += bytes
      while (this.#bytes > this.maxBytes) this.#dropOldest()
      return
    }
    this.#slots.delete(taskId)
    slot.onRecord(record)
  }

  /**
   * Hands the task's ready record to `onRecord` (at once if it is here), or answers `undefined`
   * when no push can be counted on: the caller watches and reads instead. `onLost` is called
   * instead of `onRecord` if the push can no longer be counted on. The answer stops waiting.
   */
  await(taskId: string, onRecord: (record: T) => void, onLost: () => void): (() => void) | undefined {
    const slot = this.#slots.get(taskId)
    if (slot === undefined || slot.onRecord !== undefined) return undefined
    if (slot.record !== undefined) {
      this.#slots.delete(taskId)
      this.#bytes -= slot.bytes ?? 0
      onRecord(slot.record)
      return () => {}
    }
    slot.onRecord = onRecord
    slot.onLost = onLost
    slot.since = performance.now()
    if (this.graceMs !== Infinity) this.#sweeper ??= setInterval(() => this.#sweep(), Math.min(1_000, this.graceMs)).unref()
    return () => {
      if (this.#slots.get(taskId) === slot) this.#slots.delete(taskId)
    }
  }

  /** No record will come for `taskId` (its send was a duplicate): a waiter on it is told it is lost. */
  forgo(taskId: string): void {
    this.#drop(taskId)
  }

  /** Pushes may have been lost (a disconnect, a slow consumer): every task still waiting falls back. */
  lose(): void {
    for (const [taskId, slot] of this.#slots) if (slot.record === undefined) this.#drop(taskId)
  }

  /** Forgets a task (its record was forgotten). */
  forget(taskId: string): void {
    this.#drop(taskId)
  }

  /** Forgets everything; waiters fall back. */
  clear(): void {
    for (const taskId of [...this.#slots.keys()]) this.#drop(taskId)
  }

  /** Waiters past the grace period fall back; the sweep stops once nobody waits. */
  #sweep(): void {
    const now = performance.now()
    let waiting = 0
    for (const [taskId, slot] of this.#slots) {
      if (slot.since === undefined) continue
      if (now - slot.since >= this.graceMs) this.#drop(taskId)
      else waiting++
    }
    if (waiting === 0) {
      clearInterval(this.#sweeper)
      this.#sweeper = undefined
    }
  }

  #dropOldest(): void {
    const oldest = this.#slots.keys().next()
    if (!oldest.done) this.#drop(oldest.value)
  }

  #drop(taskId: string): void {
    const slot = this.#slots.get(taskId)
    if (slot === undefined) return
    this.#slots.delete(taskId)
    this.#bytes -= slot.bytes ?? 0
    slot.onLost?.()
  }
}

/**
 * Voids every wait of `pushed` each time `nc` loses pushes: a disconnect (what was sent meanwhile
 * is gone) or a slow-consumer drop. Returns the status events, to `stop()` on close.
 */
export function loseOnConnectionLoss(nc: NatsConnection, pushed: { lose(): void }): StatusEvents {
  const status = nc.status()
  void (async () => {
    for await (const event of status) {
      if (event.type === 'disconnect' || event.type === 'slowConsumer') pushed.lose()
    }
  })()
  return status
}
