/**
 * Everything the main thread and a worker thread say to each other. Thread code talks to the
 * main thread only through these types.
 *
 * Two channels: comlink for the rare control calls (init, stats), and the raw port for the
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
  /** Shared start times, one slot per task in flight on the thread (epoch ms, 0 = not started). */
  startedAt: SharedArrayBuffer
  /** Send the heap in use with each batch of outcomes (for `maxMemoryPerChild`); else 0 is sent. */
  reportHeap: boolean
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
  | { type: 'log'; level: 'warn' | 'error'; message: string; fields?: Record<string, unknown> }
