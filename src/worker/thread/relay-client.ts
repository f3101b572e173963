/**
 * The thread's side of the memory:// relay (see relay-messages.ts): a transport and a result
 * backend that an app inside a worker thread connects to in place of its own, empty, memory://
 * broker and store, and that pass each call to the main thread's. Nothing is opened until the
 * app first uses its broker or store (a task that sends a task, a `get()` inside a task), so a
 * task that sends nothing pays nothing.
 * @module
 */
import { isMainThread, MessageChannel, postMessageToThread, type MessagePort } from 'node:worker_threads'
import { BackendError, TransportError } from '../../errors.js'
import { fromWireError } from '../../serialization/failure.js'
import { deferred, type Deferred } from '../../util/deferred.js'
import { RELAY_OPEN, type RelayAnswer, type RelayChange, type RelayedBackendCall, type RelayedTransportCall, type RelayOpen, type RelayRequest } from './relay-messages.js'
import type { BackendCapabilities, ChordStore, MetaListener, ResultBackend, TaskMeta } from '../../result/backend.js'
import type { Consumer, DeadLetter, ExchangeDeclaration, OutgoingMessage, PublishAck, QueueDeclaration, QueueStats, RequestOptions, RevokedIds, Subscription, Transport } from '../../transport/transport.js'

/** Whether this thread is one of a worker node's (its entry says so), not a thread of the user's own. */
let nodeThread = false

/** Called by a node's thread entry before it imports the app: its memory:// apps relay. */
export function markNodeThread(): void {
  nodeThread = true
}

/**
 * True where `url` names a memory:// broker or store that lives on the main thread, not this
 * one: in a worker node's thread. A thread of the user's own (a test runner's worker, say)
 * keeps a memory:// broker of its own, as a process does.
 */
export function relaysToMainThread(url: string): boolean {
  return nodeThread && !isMainThread && /^memory:\/\//i.test(url)
}

type Opening = Omit<RelayOpen, 'type' | 'port' | 'served'>

/** One port to the main thread, with the calls waiting for their answers and the watches open on it. */
class RelayPort {
  readonly #port: MessagePort
  readonly #pending = new Map<number, Deferred<unknown>>()
  readonly #watches = new Map<number, MetaListener>()
  #next = 1

  private constructor(port: MessagePort) {
    this.#port = port
    port.on('message', (message: RelayAnswer | RelayChange) => {
      if ('watch' in message) return this.#watches.get(message.watch)?.(message.meta)
      const waiting = this.#pending.get(message.id)
      this.#pending.delete(message.id)
      if ('error' in message) waiting?.reject(fromWireError(message.error))
      else waiting?.resolve(message.value)
    })
    // An idle relay does not keep the thread alive; a task waiting on it is held by the node.
    port.unref()
  }

  static async open(opening: Opening, fail: (message: string, cause?: unknown) => Error): Promise<RelayPort> {
    const what = `memory://${opening.name} (the ${opening.kind === 'broker' ? 'broker' : 'result backend'} of an app inside a worker thread)`
    if (typeof postMessageToThread !== 'function') {
      throw fail(`${what} cannot reach the main thread's: this Node has no worker_threads.postMessageToThread (Node 22.5 or later has it). Upgrade Node, or use a shared broker and backend (nats://)`)
    }
    const { port1, port2 } = new MessageChannel()
    const open: RelayOpen = { type: RELAY_OPEN, ...opening, port: port2 }
    try {
      await postMessageToThread(0, open, [port2])
    } catch (cause) {
      port1.close()
      throw fail(`${what} cannot reach the main thread's: no worker node (app.worker()) runs on the main thread of this process to serve it. memory:// lives in one process; to send tasks from other threads, start a worker node on the main thread or use a shared broker and backend (nats://)`, cause)
    }
    return new RelayPort(port1)
  }

  /** `transfer`: buffers moved, not copied, to the main thread (tight copies made for it). */
  call(call: RelayedTransportCall | RelayedBackendCall, args: unknown[], transfer?: ArrayBuffer[]): Promise<unknown> {
    const id = this.#next++
    const answer = deferred<unknown>()
    this.#pending.set(id, answer)
    this.#post({ id, call, args }, transfer)
    return answer.promise
  }

  /** A call whose answer nobody waits for. */
  tell(call: RelayedTransportCall, args: unknown[], transfer?: ArrayBuffer[]): void {
    this.#post({ id: 0, call, args }, transfer)
  }

  async watch(taskId: string, listener: MetaListener): Promise<() => void> {
    const watch = this.#next++
    this.#watches.set(watch, listener)
    const id = this.#next++
    const answer = deferred<unknown>()
    this.#pending.set(id, answer)
    this.#post({ id, call: 'watch', watch, taskId })
    try {
      await answer.promise
    } catch (error) {
      this.#watches.delete(watch)
      throw error
    }
    return () => {
      if (!this.#watches.delete(watch)) return
      this.#post({ unwatch: watch })
    }
  }

  close(error: Error): void {
    for (const waiting of this.#pending.values()) waiting.reject(error)
    this.#pending.clear()
    this.#watches.clear()
    this.#port.close()
  }

  #post(request: RelayRequest, transfer?: ArrayBuffer[]): void {
    this.#port.postMessage(request, transfer)
  }
}

/**
 * One end's link to the main thread: the port, opened by `connect`, and the error class its
 * failures take (a TransportError for the broker, a BackendError for the result store).
 */
class RelayLink {
  readonly #opening: Opening
  readonly #fail: (message: string, cause?: unknown) => Error
  #port: RelayPort | undefined

  constructor(opening: Opening, fail: (message: string, cause?: unknown) => Error) {
    this.#opening = opening
    this.#fail = fail
  }

  async connect(): Promise<void> {
    this.#port ??= await RelayPort.open(this.#opening, this.#fail)
  }

  /** Closes the port; calls waiting on it fail with `memory://<name>: <why>`. */
  close(why: string): void {
    this.#port?.close(this.#fail(`memory://${this.#opening.name}: ${why}`))
    this.#port = undefined
  }

  /** The open port; throws when not connected. */
  get port(): RelayPort {
    if (this.#port === undefined) throw this.#fail(`memory://${this.#opening.name}: not connected`)
    return this.#port
  }

  call<T>(call: RelayedTransportCall | RelayedBackendCall, args: unknown[], transfer?: ArrayBuffer[]): Promise<T> {
    try {
      return this.port.call(call, args, transfer) as Promise<T>
    } catch (error) {
      return Promise.reject(error)
    }
  }
}

/** What a {@link RelayTransport} connects with: the broker's name and the app's defaults for queues it declares. */
export interface RelayTransportOptions {
  name: string
  ackWaitMs: number
  maxDeliver: number
}

/**
 * A memory:// transport inside a worker thread: every call goes to a connection to the broker
 * of that name on the main thread, where the node consumes. Sends, declarations, revokes,
 * control requests and events are relayed.
 *
 * @remarks
 * Consuming and subscribing are not: a worker thread runs tasks, it does not host consumers
 * (a worker node runs on the main thread only). They throw a TransportError saying so.
 */
export class RelayTransport implements Transport {
  readonly kind = 'memory'
  readonly #options: RelayTransportOptions
  readonly #link: RelayLink

  constructor(options: RelayTransportOptions) {
    this.#options = options
    this.#link = new RelayLink({ kind: 'broker', ...options }, (message, cause) => new TransportError(message, { cause }))
  }

  connect(): Promise<void> {
    return this.#link.connect()
  }

  async close(): Promise<void> {
    this.#link.close('the connection is closed')
  }

  #relay<T>(call: RelayedTransportCall, args: unknown[], transfer?: ArrayBuffer[]): Promise<T> {
    return this.#link.call(call, args, transfer)
  }

  declareExchange(exchange: ExchangeDeclaration): Promise<void> {
    return this.#relay('declareExchange', [exchange])
  }

  declareQueue(queue: QueueDeclaration): Promise<void> {
    return this.#relay('declareQueue', [queue])
  }

  publish(message: OutgoingMessage): Promise<PublishAck> {
    // A message's body is most often a view of a shared pool (Node's 8 KiB slabs, msgpackr's
    // buffer): cloned as it is, each would cross, and stay queued, with the whole pool.
    const body = tight(message.body)
    return this.#relay('publish', [{ ...message, body }], [body.buffer as ArrayBuffer])
  }

  purge(queue: string): Promise<number> {
    return this.#relay('purge', [queue])
  }

  depth(queue: string): Promise<number> {
    return this.#relay('depth', [queue])
  }

  queueStats(queue: string): Promise<QueueStats> {
    return this.#relay('queueStats', [queue])
  }

  ping(): Promise<void> {
    return this.#relay('ping', [])
  }

  deadLetters(queue?: string): Promise<DeadLetter[]> {
    return this.#relay('deadLetters', queue === undefined ? [] : [queue])
  }

  replayDeadLetters(queue: string): Promise<number> {
    return this.#relay('replayDeadLetters', [queue])
  }

  revoke(id: string, ttlMs: number): Promise<void> {
    return this.#relay('revoke', [id, ttlMs])
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Uint8Array[]> {
    return this.#relay('request', [subject, data, options])
  }

  reserveRate(key: string, intervalMs: number): Promise<number> {
    return this.#relay('reserveRate', [key, intervalMs])
  }

  broadcast(subject: string, data: Uint8Array): void {
    const port = this.#link.port
    const bytes = tight(data)
    port.tell('broadcast', [subject, bytes], [bytes.buffer as ArrayBuffer])
  }

  consume(queue: string): Consumer {
    throw this.#notHere(`consume queue ${queue}`)
  }

  subscribe(pattern: string): Subscription {
    throw this.#notHere(`subscribe to ${pattern}`)
  }

  revoked(): Promise<RevokedIds> {
    return Promise.reject(this.#notHere('follow revoked ids'))
  }

  #notHere(what: string): TransportError {
    return new TransportError(`memory://${this.#options.name}: an app inside a worker thread cannot ${what}: its broker lives on the main thread, which this thread reaches only to send and to ask. Do it on the main thread, or use a shared broker (nats://)`)
  }
}

/** What a {@link RelayBackend} connects with. */
export interface RelayBackendOptions {
  name: string
  resultExpiresMs: number
}

const RELAY_CAPABILITIES: BackendCapabilities = Object.freeze({ stores: true, chords: true, announce: false, push: false, local: false })

/**
 * A memory:// result backend inside a worker thread: records are stored, read and watched in
 * the store of that name on the main thread, where the node records its tasks' states. Records
 * cannot be read without a promise here (no `local` facet), so `get()` waits on a relayed watch.
 */
export class RelayBackend implements ResultBackend {
  readonly kind = 'memory'
  readonly capabilities = RELAY_CAPABILITIES
  readonly chords: ChordStore = {
    start: (chord) => this.#relay('chordStart', [chord]),
    partReturn: (id, indices, size) => this.#relay('partReturn', [id, indices, size]),
  }
  readonly #link: RelayLink

  constructor(options: RelayBackendOptions) {
    this.#link = new RelayLink({ kind: 'backend', ...options }, (message, cause) => new BackendError(message, { cause }))
  }

  connect(): Promise<void> {
    return this.#link.connect()
  }

  async close(): Promise<void> {
    this.#link.close('the result backend is closed')
  }

  store(meta: TaskMeta): Promise<void> {
    if (meta.result === undefined) return this.#relay('store', [meta])
    const result = tight(meta.result)
    return this.#relay('store', [{ ...meta, result }], [result.buffer as ArrayBuffer])
  }

  get(taskId: string): Promise<TaskMeta | undefined> {
    return this.#relay('get', [taskId])
  }

  forget(taskId: string): Promise<void> {
    return this.#relay('forget', [taskId])
  }

  async watch(taskId: string, listener: MetaListener): Promise<() => void> {
    return this.#link.port.watch(taskId, listener)
  }

  #relay<T>(call: RelayedBackendCall, args: unknown[], transfer?: ArrayBuffer[]): Promise<T> {
    return this.#link.call(call, args, transfer)
  }
}

/** A copy of `bytes` in a buffer of its own, to transfer (a Buffer's slice() would be a view). */
function tight(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}
