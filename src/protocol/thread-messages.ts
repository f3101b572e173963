/**
 * Everything the main thread and a worker thread say to each other. Thread code talks to the
 * main thread only through these types.
 *
 * Two channels: comlink for the rare control call (init), and the raw port for the
 * per-task hot path, where messages carry flat batches (see thread-batch.ts): a comlink call
 * per task caps a thread hop near 80k/s, and structured cloning an object per task costs
 * the main thread more than the task itself.
 * @module
 */
import type { ContentType } from '../serialization/codec.js'
import type { OutcomeBatch, RunBatch } from './thread-batch.js'

/** `workerData` of a worker thread. */
export interface ThreadInit {
  /** Module URLs to import (the app module first, then its includes). */
  modules: string[]
  /** Name of the app to serve (apps register themselves by name when created). */
  appName: string
  hostname: string
  /** The memory the thread shares with the main thread: see {@link SharedSlots}. */
  shared: SharedArrayBuffer
  /** Send the heap in use with each batch of outcomes (for `maxMemoryPerChild`); else 0 is sent. */
  reportHeap: boolean
}

/**
 * How often a thread that runs tasks writes its heartbeat, ms: from a timer, so the beat stops
 * while a task holds the thread's event loop (a CPU-bound loop, a synchronous call).
 */
export const BEAT_MS = 10

/**
 * A thread whose heartbeat is older than this, ms, is held: the main thread gives it no new
 * task and counts none of its free slots, since a task sent there would wait until the holder
 * lets go. Well above {@link BEAT_MS}, so that a late timer on a loaded machine is not mistaken
 * for a held loop.
 */
export const HELD_MS = 50

/**
 * A slot's claim, in the shared `claims` array. The main thread marks a slot `sent` as it
 * queues a task there; the thread swaps `sent` for `started` as it starts the task. While the
 * thread is held, the main thread may swap `sent` for `withdrawn` and give the task to another
 * thread; the thread, once let go, finds the swap refused, skips the task and marks the slot
 * `idle`, and only then can the slot take another task. One atomic swap each: a task starts in
 * one place only.
 */
export const Claim = { idle: 0, sent: 1, started: 2, withdrawn: 3 } as const

/** A thread held this long, ms, is reported once (the node logs a warning naming the task). */
export const HELD_REPORT_MS = 1_000

/** How often the main thread looks at its threads' heartbeats, ms. */
export const HELD_CHECK_MS = 20

/** The memory a thread shares with the main thread, as views of one buffer. */
export interface SharedSlots {
  readonly buffer: SharedArrayBuffer
  /** The thread's heartbeat while it runs tasks (epoch ms); 0 once it has run none for a beat. See {@link HELD_MS}. */
  readonly beat: Float64Array
  /** When each slot's task started (epoch ms), 0 while it has not. */
  readonly startedAt: Float64Array
  /** Who has each slot's task: see {@link Claim}. */
  readonly claims: Int32Array
  /** The slot of the task the thread started last. */
  readonly lastStarted: Int32Array
}

/** Views of `buffer` (made by the main thread for `capacity` slots when not given). */
export function sharedSlots(capacity: number, buffer = new SharedArrayBuffer(12 + capacity * 12)): SharedSlots {
  const claims = 8 + capacity * 8
  return {
    buffer,
    beat: new Float64Array(buffer, 0, 1),
    startedAt: new Float64Array(buffer, 8, capacity),
    claims: new Int32Array(buffer, claims, capacity),
    lastStarted: new Int32Array(buffer, claims + capacity * 4, 1),
  }
}

/** The views of a buffer that {@link sharedSlots} made. */
export function slotsOf(buffer: SharedArrayBuffer): SharedSlots {
  return sharedSlots((buffer.byteLength - 12) / 12, buffer)
}

/** What a worker thread tells about itself after init. */
export interface ThreadReady {
  threadId: number
  tasks: string[]
}

/** Main thread to worker thread, on the hot port. */
export type MainToThread = RunBatch

/** Worker thread to main thread, on the hot port. */
export type ThreadToMain =
  | OutcomeBatch
  | { type: 'started'; slots: number[] }
  | { type: 'update'; slot: number; state: string; meta?: Uint8Array; contentType?: ContentType }
  /** A line for the node's logger: a thread has none of its own, so its lines share the node's level and format. */
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> }
