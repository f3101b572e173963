/**
 * Everything the main thread and a worker thread say to each other. Thread code talks to the
 * main thread only through these types.
 *
 * Two channels: comlink for the rare control calls (init, stats), and a raw MessagePort for
 * the per-task hot path, where messages carry batches (a comlink call per task caps a thread
 * hop near 80k/s; batched postMessage goes several times faster, see bench/thread-hop.ts).
 * @module
 */
import type { ContentType } from '../serialization/codec.js'
import type { WireError } from '../serialization/failure.js'
import type { DeliveryInfo } from '../task/context.js'

/** `workerData` of a worker thread. */
export interface ThreadInit {
  /** Module URLs to import (the app module first, then its includes). */
  modules: string[]
  /** Name of the app to serve (apps register themselves by name when created). */
  appName: string
  hostname: string
  /** Shared start times, one slot per task in flight on the thread (epoch ms, 0 = not started). */
  startedAt: SharedArrayBuffer
}

/** What a worker thread tells about itself after init. */
export interface ThreadReady {
  threadId: number
  tasks: string[]
}

/** One task to run, as the thread needs it. */
export interface RunRequest {
  /** Index of the task in the thread's shared `startedAt` array, also its handle in replies. */
  slot: number
  id: string
  task: string
  /** Encoded `[args, kwargs]`. */
  body: Uint8Array
  contentType: ContentType
  retries: number
  rootId: string
  parentId?: string
  groupId?: string
  eta?: number
  expires?: number
  deliveryInfo: DeliveryInfo
  headers?: Record<string, unknown>
  softTimeLimitMs?: number
  /** Tell the main thread when the task starts (trackStarted or events). */
  reportStart: boolean
  ignoreResult: boolean
}

/** Main thread to worker thread, on the hot port. */
export type MainToThread =
  | { type: 'run'; batch: RunRequest[] }
  /** Abort the task's signal (revoked while running, without terminate). */
  | { type: 'abort'; slot: number; reason: WireError }

/** How one run ended, as the thread saw it. */
export type Outcome =
  | { slot: number; kind: 'success'; result?: Uint8Array; contentType?: ContentType; runtimeMs: number }
  | { slot: number; kind: 'failure'; error: WireError; runtimeMs: number }
  | { slot: number; kind: 'retry'; delayMs: number; error?: WireError; runtimeMs: number }
  | { slot: number; kind: 'reject'; requeue: boolean; error: WireError; runtimeMs: number }
  | { slot: number; kind: 'ignore'; runtimeMs: number }

/** Worker thread to main thread, on the hot port. */
export type ThreadToMain =
  | { type: 'done'; outcomes: Outcome[]; heapUsed: number }
  | { type: 'started'; slots: number[] }
  | { type: 'update'; slot: number; state: string; meta?: Uint8Array; contentType?: ContentType }
