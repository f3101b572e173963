/**
 * What an app inside a worker thread says to the main thread about a `memory://` broker or
 * result store, and the answers. A memory:// broker and store live in the memory of the thread
 * that made them: the node's are on the main thread, and a worker thread that imports the app
 * module would otherwise make empty ones of its own, so a task that sends a task would send it
 * nowhere. The thread opens one port per broker or store and relays each call over it
 * (relay-client.ts); the main thread serves it with a connection of its own (relay-server.ts).
 * @module
 */
import type { MessagePort } from 'node:worker_threads'
import type { WireError } from '../../serialization/failure.js'
import type { TaskMeta } from '../../result/backend.js'

/** Tags the opening message, sent with `postMessageToThread` to the main thread. */
export const RELAY_OPEN = 'celeriac.memory-relay'

/** The opening message: a port to serve, and what it is for. */
export interface RelayOpen {
  type: typeof RELAY_OPEN
  /** `broker`: a memory:// transport; `backend`: a memory:// result store. */
  kind: 'broker' | 'backend'
  /** The name after `memory://`. */
  name: string
  /** The thread's app's settings for the connection made on its behalf. */
  ackWaitMs?: number
  maxDeliver?: number
  resultExpiresMs?: number
  port: MessagePort
  /** Set by the first listener that serves it: a second copy of celeriac on the main thread leaves it. */
  served?: boolean
}

/** The transport calls relayed: each takes and returns plain data. */
export const RELAYED_TRANSPORT_CALLS = ['declareExchange', 'declareQueue', 'publish', 'purge', 'depth', 'queueStats', 'ping', 'deadLetters', 'replayDeadLetters', 'revoke', 'request', 'reserveRate', 'broadcast'] as const
export type RelayedTransportCall = (typeof RELAYED_TRANSPORT_CALLS)[number]

/** The result store calls relayed (`watch` is a {@link RelayWatch}). */
export type RelayedBackendCall = 'store' | 'get' | 'forget' | 'chordStart' | 'partReturn'

/** Thread to main thread. `id` 0: no answer wanted. */
export type RelayRequest =
  | { id: number; call: RelayedTransportCall | RelayedBackendCall; args: unknown[] }
  | RelayWatch
  | { unwatch: number }

/** Starts a watch on a record; its changes come back as {@link RelayChange} until `{ unwatch }`. */
export interface RelayWatch {
  id: number
  call: 'watch'
  watch: number
  taskId: string
}

/** Main thread to thread: the answer to request `id`. */
export type RelayAnswer = { id: number; value: unknown } | { id: number; error: WireError }

/** Main thread to thread: a watched record changed. */
export interface RelayChange {
  watch: number
  meta: TaskMeta
}
