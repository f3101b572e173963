/**
 * The result backend contract: where task states and results are kept.
 *
 * @remarks
 * Shaped after a JetStream KV bucket so that NATS implements it without change: one record
 * per task id, last write wins, a watch per key that sees every later write in order, a
 * bucket-wide time to live (`resultExpires`). Values are stored as given; a backend that
 * crosses the wire encodes the record itself. The contract leaves out history (only the
 * latest record of a task is kept) and queries across tasks.
 * @module
 */
import type { WireError } from '../serialization/failure.js'
import type { ContentType } from '../serialization/codec.js'
import type { StateName } from '../lifecycle/states.js'
import type { ChordRecord } from '../canvas/data.js'

/** Everything stored about one task. */
export interface TaskMeta {
  taskId: string
  state: StateName
  /** SUCCESS: the return value; custom states: their meta. Encoded with `contentType`. */
  result?: Uint8Array
  contentType?: ContentType
  /** FAILURE, RETRY, REVOKED, REJECTED: the error, with its remote stack. */
  error?: WireError
  /** Task name, when known. */
  name?: string
  /** Retries so far. */
  retries?: number
  /** The node that reported this state. */
  worker?: string
  /** When the task reached a ready state (epoch ms). */
  dateDone?: number
  parentId?: string
  rootId?: string
  groupId?: string
  /** Ids of tasks this one sent (links, retries excluded). */
  children?: string[]
  /** The subject the task's sender listens on, from the message's `replyTo` (see {@link ResultBackend.replyTo}). */
  replyTo?: string
}

/** Called with every record stored for a watched id, in order. */
export type MetaListener = (meta: TaskMeta) => void

/** The contract every result store implements. */
export interface ResultBackend {
  /** `memory`, `nats`, `rpc`. */
  readonly kind: string
  /**
   * Where a task sent by this process should send its states (Celery's `reply_to`), when the
   * backend routes them to the sender: `rpc://` sends every state there instead of storing it;
   * `nats://` pushes the ready record there besides storing it. Set once connected.
   */
  readonly replyTo?: string
  /**
   * Told when this process sends a task with its {@link replyTo}, before the send: the backend
   * may keep the pushed ready record for {@link awaitReady}. Optional.
   */
  expect?(taskId: string): void
  /**
   * Hands a task's ready record to `onReady` without a watch or a read, when the backend can
   * count on receiving it (a task {@link expect}ed, and no connection loss since). Answers
   * `undefined` when it cannot: the caller watches and reads instead, as it also does after
   * `onLost`. The answer stops waiting. Optional.
   */
  awaitReady?(taskId: string, onReady: MetaListener, onLost: () => void): (() => void) | undefined
  connect(): Promise<void>
  close(): Promise<void>
  /**
   * Sends a record to the task's watchers without storing it, for a state that need not
   * survive (RECEIVED: a task about to run). Optional: the runtime stores the record instead
   * when a backend has no cheaper way. On NATS this saves a stream write per task; Celery does
   * not store RECEIVED either.
   */
  announce?(meta: TaskMeta): Promise<void>
  /** Stores the latest record of a task (last write wins). */
  store(meta: TaskMeta): Promise<void>
  /** The latest record, or `undefined` when the id is unknown, forgotten or expired. */
  get(taskId: string): Promise<TaskMeta | undefined>
  /** Removes a task's record. */
  forget(taskId: string): Promise<void>
  /**
   * Calls `listener` with every record stored for `taskId` from now on, in order. Resolves
   * once the watch is in place, so that a `get` made after it misses nothing.
   */
  watch(taskId: string, listener: MetaListener): Promise<() => void>
  /**
   * Keeps a chord until its header is done. Optional: a backend without it (rpc://) cannot
   * join chords. Called by the sender before any header member is sent.
   */
  chordStart?(chord: ChordRecord): Promise<void>
  /**
   * Marks header members `indices` of chord `id` (of `size` members) done, atomically and
   * idempotently (a member reported twice counts once). Resolves to the chord's record for
   * exactly one call: the one that marked the last member; `undefined` for every other.
   */
  chordPartReturn?(id: string, indices: readonly number[], size: number): Promise<ChordRecord | undefined>
}
