/**
 * The result backend contract: where task states and results are kept.
 *
 * @remarks
 * Shaped after a JetStream KV bucket so that NATS implements it without change: one record
 * per task id, last write wins, a watch per key that sees every later write in order, a
 * bucket-wide time to live (`resultExpires`). Values are stored as given; a backend that
 * crosses the wire encodes the record itself. The contract leaves out history (only the
 * latest record of a task is kept) and queries across tasks.
 *
 * Every backend implements the core; what only some can do (join chords, announce without
 * storing, route results to their sender) is declared in `capabilities` and reached through the
 * facet of the same name, present exactly when declared. A caller that needs one takes it with
 * {@link requireCapability}, which fails with a ConfigError naming the backend.
 * @module
 */
import { ConfigError } from '../errors.js'
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
  /** The subject the task's sender listens on, from the message's `replyTo` (see {@link ReplyPush.replyTo}). */
  replyTo?: string
}

/** Called with every record stored for a watched id, in order. */
export type MetaListener = (meta: TaskMeta) => void

/**
 * Keeps chords until their header is done: the `chords` capability. A backend without it
 * (rpc://) cannot join chords.
 */
export interface ChordStore {
  /** Keeps a chord until its header is done. Called by the sender before any header member is sent. */
  start(chord: ChordRecord): Promise<void>
  /**
   * Marks header members `indices` of chord `id` (of `size` members) done, atomically and
   * idempotently (a member reported twice counts once). Resolves to the chord's record for
   * exactly one call: the one that marked the last member; `undefined` for every other.
   */
  partReturn(id: string, indices: readonly number[], size: number): Promise<ChordRecord | undefined>
}

/**
 * Sends a record to the task's watchers without storing it: the `announce` capability. Used
 * for a state that need not survive (RECEIVED: a task about to run); without it the runtime
 * stores the record instead. On NATS this saves a stream write per task; Celery does not
 * store RECEIVED either.
 */
export interface Announcer {
  send(meta: TaskMeta): Promise<void>
}

/**
 * Routes a task's states to the process that sent it (Celery's `reply_to`): the `push`
 * capability. `rpc://` sends every state there instead of storing it; `nats://` pushes the
 * ready record there besides storing it.
 */
export interface ReplyPush {
  /** The subject to put in a task's `replyTo`; `undefined` until the backend is connected. */
  readonly replyTo: string | undefined
  /**
   * Told when this process sends a task with its {@link replyTo}, before the send: the backend
   * may keep the pushed ready record for {@link awaitReady}.
   */
  expect(taskId: string): void
  /**
   * Told when a send {@link expect}ed was dropped as a duplicate of an earlier one with the same
   * id (a re-sent `taskId`): no record may be pushed for it, so a wait on it watches and reads.
   */
  forgo?(taskId: string): void
  /**
   * Hands a task's ready record to `onReady` without a watch or a read, when the backend can
   * count on receiving it (a task {@link expect}ed, and no connection loss since). Answers
   * `undefined` when it cannot: the caller watches and reads instead, as it also does after
   * `onLost`. The answer stops waiting.
   */
  awaitReady(taskId: string, onReady: MetaListener, onLost: () => void): (() => void) | undefined
}

/**
 * Reads and watches without a promise: the `local` capability of a backend whose records live
 * in this process (memory://). A `get()` of a finished task then settles in the same turn, and
 * one still running waits on a plain listener, with no round of promises per result.
 */
export interface LocalRecords {
  /** The latest record, or `undefined` (unknown, forgotten, expired). Shared: do not mutate it. */
  read(taskId: string): TaskMeta | undefined
  /** As {@link ResultBackend.watch}, in place when it returns; returns the unwatch function. */
  watch(taskId: string, listener: MetaListener): () => void
}

/** Each capability that comes with members, and the facet that holds them. */
export interface BackendFacets {
  chords: ChordStore
  announce: Announcer
  push: ReplyPush
  local: LocalRecords
}

/** A capability held in a facet of the same name. */
export type FacetName = keyof BackendFacets

/**
 * What a backend can do beyond the core, declared once: each flag named in
 * {@link BackendFacets} is true exactly when the facet of the same name is present.
 */
export interface BackendCapabilities extends Readonly<Record<FacetName, boolean>> {
  /**
   * A stored record survives for another connection's `get` (and for this one's after the
   * fact). False for rpc://, which only routes records to the task's sender and watchers.
   */
  readonly stores: boolean
}

/**
 * The contract every result store implements: a required core (`kind` to `watch`) and the
 * facets its {@link capabilities} declare. Callers that need a facet take it with
 * {@link requireCapability}; those that can do without read the optional facet.
 */
export interface ResultBackend extends Readonly<Partial<BackendFacets>> {
  /** `memory`, `nats`, `rpc`. */
  readonly kind: string
  readonly capabilities: BackendCapabilities
  connect(): Promise<void>
  close(): Promise<void>
  /** Stores the latest record of a task (last write wins). */
  store(meta: TaskMeta): Promise<void>
  /** The latest record, or `undefined` when the id is unknown, forgotten or expired. */
  get(taskId: string): Promise<TaskMeta | undefined>
  /** Removes a task's record. */
  forget(taskId: string): Promise<void>
  /**
   * Calls `listener` with every record stored for `taskId` from now on, in order. Resolves
   * once the watch is in place, so that a `get` made after it misses nothing. `onUnreadable`
   * hears of a value stored for the task that is no task record (written by something else);
   * without it, a backend that can meet one says so as a process warning.
   */
  watch(taskId: string, listener: MetaListener, onUnreadable?: (error: Error) => void): Promise<() => void>
}

/** What a backend must do for each capability, as an error message says it. */
const NEEDS: Record<FacetName, string> = {
  chords: 'stores results and joins chords (memory:// or nats://)',
  announce: 'announces states without storing them (nats://)',
  push: 'routes results to their sender (nats:// or rpc://)',
  local: 'keeps its records in this process (memory://)',
}

/**
 * The facet of capability `name`, or a ConfigError naming the backend's kind and `what` needs
 * it (a plural noun phrase: "chords need a result backend that ...").
 * @example
 * const chords = requireCapability(backend, 'chords', 'chords')
 * await chords.start(record)
 */
export function requireCapability<K extends FacetName>(backend: ResultBackend, name: K, what: string): BackendFacets[K] {
  const facet = backend.capabilities[name] ? backend[name] : undefined
  if (facet === undefined) throw new ConfigError(`${what} need a result backend that ${NEEDS[name]}; ${backend.kind}:// does not`)
  return facet as BackendFacets[K]
}
