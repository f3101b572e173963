/**
 * The `rpc://` result backend: states sent to whoever waits, as messages, never stored.
 * @module
 */
import { BackendError, ErrorCode, InvalidArgumentError } from '../../errors.js'
import { connectNats } from '../../transport/nats/connect.js'
import type { NatsConnectOptions } from '../../transport/nats/connect.js'
import { decodeRecord, deliver, encodeRecord, warnUndeliverable, type StoredMeta } from '../nats-kv/record.js'
import { isSafePrefix, taskKey } from '../nats-kv/task-key.js'
import { RecordCache } from './record-cache.js'
import { loseOnConnectionLoss, PushedRecords, type StatusEvents } from '../nats-kv/pushed-records.js'
import { READY_STATES, TaskState } from '../../lifecycle/states.js'
import { toWireError, type WireError } from '../../serialization/failure.js'
import { newTaskId } from '../../util/ids.js'
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node'
import type { BackendCapabilities, MetaListener, ReplyPush, ResultBackend, TaskMeta } from '../backend.js'
import { wireOf } from '../../transport/nats/wire.js'

/** Subject prefix of `rpc://` records unless told otherwise: records go to `celeriac.rpc.<task id>`. */
export const DEFAULT_RPC_PREFIX = 'celeriac'
/**
 * Records an {@link RpcBackend} remembers for `get()` unless told otherwise: enough for the
 * results of a large batch sent at once and awaited after (about 200 bytes each, plus results).
 */
export const DEFAULT_RPC_CACHE_SIZE = 100_000

/** Options of {@link RpcBackend}. */
export interface RpcBackendOptions {
  /** Server URL(s), `nats://[user:pass@]host:port[,host:port]`; used when no `connection` is given. */
  url: string
  /** Connection options used with `url` (credentials, `credsFile`, `nkeySeedFile`, `tls` files, `inboxPrefix`); not with `connection`. */
  connectionOptions?: NatsConnectOptions
  /**
   * A connection to share (normally the broker's). When given, `close()` leaves it open;
   * otherwise the backend opens its own from `url` and closes it.
   */
  connection?: NatsConnection
  /** Subject prefix: records are published on `<prefix>.rpc.<task key>`. Default: `celeriac`. */
  prefix?: string
  /**
   * How many task records this process remembers for `get()` (the latest per task, least
   * recently written dropped first). `0`: none, and `get()` always reads `undefined`. Default: 100,000.
   */
  cacheSize?: number
}

interface Watched {
  subscription: Subscription
  /** Settles once the server has the subscription. */
  ready: Promise<void>
  listeners: MetaListener[]
}

/**
 * Celery's RPC backend on core NATS: the states of a task go to the process that sent it (its
 * `replyTo`, Celery's `reply_to`), which keeps them for `get()`; nothing is persisted.
 * A task sent without a `replyTo` (by a process not on rpc://) has its states published on
 * `<prefix>.rpc.<task key>`, to whoever watches that task at that moment.
 *
 * @remarks
 * What it deliberately cannot do, as Celery's `rpc://`:
 * - Only the sender hears of a task it sent: each process on rpc:// subscribes to its own
 *   reply subject when it connects, before it sends anything, so a result that arrives before
 *   `get()` is called waits in its cache (`cacheSize`, least recently written dropped first).
 * - `get()` (and so `state()`, `ready()`, `result()`) knows only what this process has seen.
 *   A task this process did not send, and did not watch while it ran, reads as PENDING.
 * - No other process can read a result after the fact, no result survives a restart, and
 *   `forget()` only drops this process's cached copy.
 * - A record must fit in one message (the server's `max_payload`, 1 MiB by default): there
 *   is no object store to spill into. A larger ready record is replaced by a FAILURE that
 *   says so (a BackendError, with a process warning), so the caller's `get()` rejects at once
 *   instead of waiting for ever; a larger record of any other state is refused with a BackendError.
 * - No expiry: there is nothing stored to expire; `resultExpires` does not apply.
 * - No chords: a chord's join reads its members' stored results.
 *
 * Delivery is core NATS: at most once, in order per publisher.
 * @example
 * const backend = new RpcBackend({ url: 'nats://127.0.0.1:4222' })
 * const unwatch = await backend.watch(id, (meta) => console.log(meta.state))
 */
export class RpcBackend implements ResultBackend {
  readonly kind = 'rpc'
  readonly capabilities: BackendCapabilities = RPC_CAPABILITIES
  /**
   * Where tasks sent by this process send their states; listened to from `connect()` on.
   * Every record arrives there and is cached; the ready record of a task this process sent is
   * also handed to its `get()` (`awaitReady`), which then needs no subscription of its own.
   */
  readonly push: ReplyPush
  /** The subject prefix. */
  readonly prefix: string
  readonly #url: string
  readonly #connectionOptions: NatsConnectOptions | undefined
  readonly #shared: NatsConnection | undefined
  readonly #cache: RecordCache
  readonly #watched = new Map<string, Watched>()
  /**
   * Tasks sent with this process's reply subject, and their ready records once arrived. A
   * get() used to subscribe to the task's own subject and flush (a SUB, a PING and an UNSUB per
   * result, each read by the server), although the records of these tasks never come there:
   * 100-120 us of client CPU per task in bench:scale, against 38 us on nats://.
   */
  readonly #pushed: PushedRecords<TaskMeta>
  #status: StatusEvents | undefined
  /** The subject this process's tasks send their states to; see {@link push}. */
  readonly #replyTo: string
  #replies: Promise<Subscription> | undefined
  #connected: Promise<NatsConnection> | undefined
  #closed = false

  constructor(options: RpcBackendOptions) {
    if (typeof options?.url !== 'string' && options?.connection === undefined) {
      throw new InvalidArgumentError('options.url must be a NATS URL when no options.connection is given')
    }
    const prefix = options.prefix ?? DEFAULT_RPC_PREFIX
    if (typeof prefix !== 'string' || !isSafePrefix(prefix)) {
      throw new InvalidArgumentError('options.prefix must be dot-separated tokens of letters, digits, "-", "_", "/" and "="')
    }
    const cacheSize = options.cacheSize ?? DEFAULT_RPC_CACHE_SIZE
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new InvalidArgumentError('options.cacheSize must be a non-negative integer')
    }
    this.#url = options.url
    this.#connectionOptions = options.connectionOptions
    this.#shared = options.connection
    this.prefix = prefix
    this.#cache = new RecordCache(cacheSize)
    // No grace period: nothing is stored, so a get() that gave up on its push would find nothing.
    this.#pushed = new PushedRecords(cacheSize, PUSHED_MAX_BYTES)
    this.#replyTo = `${prefix}.rpc-reply.${newTaskId()}`
    const backend = this
    this.push = {
      get replyTo() {
        return backend.#replies === undefined ? undefined : backend.#replyTo
      },
      expect: (taskId) => this.#pushed.expect(taskId),
      forgo: (taskId) => this.#pushed.forgo(taskId),
      awaitReady: (taskId, onReady, onLost) => this.#pushed.await(taskId, onReady, onLost),
    }
  }

  /** Opens the connection unless one is shared, and listens on the reply subject. Idempotent. */
  connect(): Promise<void> {
    return this.#ready().then((nc) => {
      this.#replies ??= this.#listen(nc)
      return this.#replies.then(() => undefined)
    })
  }

  /** The reply subscription: records of tasks this process sent, for its cache and watchers. */
  async #listen(nc: NatsConnection): Promise<Subscription> {
    const subject = this.#replyTo
    const subscription = nc.subscribe(subject, { callback: (error, msg) => this.#receive(error, msg, subject) })
    // Records sent while the connection is down, or dropped as a slow consumer's, are lost:
    // every get() still waiting falls back to a watch and the cache.
    this.#status = loseOnConnectionLoss(nc, this.#pushed)
    // Once the server has the SUB, a task sent after connect() cannot answer before it.
    await nc.flush()
    return subscription
  }

  /** Ends every watch, sends what is still buffered, and closes the connection if the backend opened it. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const watched of this.#watched.values()) watched.subscription.unsubscribe()
    void this.#replies?.then((subscription) => subscription.unsubscribe(), () => {})
    this.#watched.clear()
    this.#cache.clear()
    this.#pushed.clear()
    this.#status?.stop?.()
    const nc = this.#shared ?? (await this.#connected?.catch(() => undefined))
    if (nc === undefined || nc.isClosed()) return
    // Records published just before close are still in the client's buffer.
    await nc.flush().catch(() => undefined)
    if (this.#shared === undefined) await nc.close().catch(() => undefined)
  }

  /** Publishes the record to the task's watchers and remembers it for this process's `get()`. */
  async store(meta: TaskMeta): Promise<void> {
    if (typeof meta?.taskId !== 'string' || meta.taskId === '') {
      throw new InvalidArgumentError('meta.taskId must be a non-empty string')
    }
    const nc = await this.#ready()
    const subject = meta.replyTo ?? this.#subject(meta.taskId)
    // A copy: msgpack returns a view of a shared slab, which the cache must not pin.
    let bytes = encodeRecord(meta).slice()
    const limit = nc.info?.max_payload
    if (limit !== undefined && bytes.byteLength > limit) {
      const tooLarge = `the result of task ${meta.taskId} is ${bytes.byteLength} bytes, over the server's max_payload of ${limit}; rpc:// cannot carry it, use the nats:// result backend`
      // A ready record that never comes would leave the caller's get() waiting for ever: it
      // hears of the failure instead. Any other state is refused here; a later one still comes.
      const failure = READY_STATES.has(meta.state) ? encodeRecord(tooLargeFailure(meta, tooLarge)).slice() : undefined
      if (failure === undefined || failure.byteLength > limit) throw new BackendError(`rpc backend: ${tooLarge} (subject ${subject})`)
      process.emitWarning(new BackendError(`rpc backend: ${tooLarge} (subject ${subject}); sent FAILURE instead`))
      bytes = failure
    }
    try {
      wireOf(nc).publish(subject, bytes)
    } catch (error) {
      throw new BackendError(`rpc backend: cannot publish task ${meta.taskId} on ${subject}: ${(error as Error).message}`, { cause: error })
    }
    this.#cache.set(meta.taskId, bytes)
  }

  /** The last record this process stored or received for the task, or `undefined`. */
  async get(taskId: string): Promise<TaskMeta | undefined> {
    if (this.#closed) throw closedError()
    const bytes = this.#cache.get(taskId)
    if (bytes === undefined) return undefined
    const meta = decodeRecord(bytes, `the rpc cache of task ${taskId}`)
    // msgpack hands binary back as a view of the cached bytes: a caller must not reach them.
    if (meta.result !== undefined) meta.result = new Uint8Array(meta.result)
    return meta
  }

  /** Drops this process's copy; other processes and later messages are not affected. */
  async forget(taskId: string): Promise<void> {
    if (this.#closed) throw closedError()
    this.#cache.delete(taskId)
    this.#pushed.forget(taskId)
  }

  /** Subscribes to the task's subject; resolves once the server has the subscription. */
  async watch(taskId: string, listener: MetaListener): Promise<() => void> {
    const nc = await this.#ready()
    let watched = this.#watched.get(taskId)
    if (watched === undefined) {
      watched = this.#subscribe(nc, taskId)
      this.#watched.set(taskId, watched)
    }
    // Listener lists are copied on write, so an unwatch during delivery does not disturb it.
    watched.listeners = [...watched.listeners, listener]
    const entry = watched
    let active = true
    const unwatch = () => {
      if (!active) return
      active = false
      entry.listeners = entry.listeners.filter((l) => l !== listener)
      if (entry.listeners.length === 0 && this.#watched.get(taskId) === entry) {
        this.#watched.delete(taskId)
        entry.subscription.unsubscribe()
      }
    }
    try {
      await entry.ready
    } catch (error) {
      unwatch()
      throw new BackendError(`rpc backend: cannot watch task ${taskId} on ${this.#subject(taskId)}: ${(error as Error).message}`, { cause: error })
    }
    if (this.#closed) throw closedError()
    return unwatch
  }

  /**
   * A record arrived on `subject` (the reply subject, or the subject of task `taskId`): it is
   * cached for `get()` and handed to the task's watchers.
   */
  #receive(error: Error | null, msg: Msg, subject: string, taskId?: string): void {
    if (error !== null) {
      if (taskId === undefined) this.#pushed.lose()
      return warnUndeliverable(error)
    }
    // A copy: msgpack hands binary back as views of what it decodes, and msg.data is a view of
    // the client's read buffer. Cached, and the pushed record's result points into it.
    let bytes: Uint8Array = msg.data.slice()
    let meta: TaskMeta
    try {
      meta = decodeRecord(bytes, `subject ${subject}`)
    } catch (decodeError) {
      return warnUndeliverable(decodeError)
    }
    if (taskId !== undefined && meta.taskId !== taskId) {
      return warnUndeliverable(new BackendError(`rpc backend: a record of task ${meta.taskId} arrived on ${subject}, the subject of task ${taskId}`))
    }
    if ((meta as StoredMeta).resultRef !== undefined) {
      // From a worker whose backend is nats:// (KV): its large result sits in an object store
      // this backend does not read. Without this the caller's get() gave undefined.
      const { resultRef, ...rest } = meta as StoredMeta
      const error = new BackendError(`task ${meta.taskId}'s result (${resultRef!.size} bytes) is in the nats:// result store of the worker that ran it, which this app's rpc:// backend cannot read: give the app the same result backend as its workers`)
      meta = { ...rest, state: TaskState.FAILURE, error: toWireError(error) }
      bytes = encodeRecord(meta)
    }
    this.#cache.set(meta.taskId, bytes)
    // Every listener receives the same record object: it must not be mutated.
    for (const listener of this.#watched.get(meta.taskId)?.listeners ?? []) deliver(listener, meta)
    if (taskId === undefined && READY_STATES.has(meta.state)) this.#pushed.arrive(meta.taskId, meta, bytes.byteLength)
  }

  #subscribe(nc: NatsConnection, taskId: string): Watched {
    const subject = this.#subject(taskId)
    const watched: Watched = {
      listeners: [],
      subscription: nc.subscribe(subject, { callback: (error, msg) => this.#receive(error, msg, subject, taskId) }),
      // The flush round trip means the server has processed the SUB: a record published after
      // watch() resolves, from any connection, reaches this subscription.
      ready: nc.flush(),
    }
    return watched
  }

  #subject(taskId: string): string {
    return `${this.prefix}.rpc.${taskKey(taskId)}`
  }

  #ready(): Promise<NatsConnection> {
    if (this.#closed) return Promise.reject(closedError())
    if (this.#shared !== undefined) return Promise.resolve(this.#shared)
    this.#connected ??= connectNats(this.#url, this.#connectionOptions).catch((error: unknown) => {
      this.#connected = undefined
      throw new BackendError(`rpc backend: ${(error as Error).message}`, { cause: error })
    })
    return this.#connected
  }
}

/**
 * The FAILURE record sent in place of a ready record too large for one message: the task's
 * identity and lineage, without its result; a failure's own error becomes the cause, cut short.
 */
function tooLargeFailure(meta: TaskMeta, message: string): TaskMeta {
  const { result: _result, contentType: _contentType, error: original, ...kept } = meta
  const error: WireError = { type: 'BackendError', code: ErrorCode.Backend, message }
  if (original !== undefined) error.cause = { type: original.type, code: original.code, message: original.message.slice(0, 1024) }
  return { ...kept, state: TaskState.FAILURE, error }
}

/** At most this much of pushed ready records waits for a `get()`; past it the oldest fall back to the cache. */
const PUSHED_MAX_BYTES = 64 * 1024 * 1024

/** Records go to the sender and to watchers as messages: nothing is kept for another connection or a chord. */
const RPC_CAPABILITIES: BackendCapabilities = Object.freeze({ stores: false, chords: false, announce: false, push: true, local: false })

function closedError(): BackendError {
  return new BackendError('rpc backend is closed')
}
