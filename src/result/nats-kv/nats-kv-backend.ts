/**
 * The `nats://` result backend: one JetStream KV record per task.
 * @module
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { millis, nanos } from '@nats-io/transport-node'
import { BackendError, InvalidArgumentError } from '../../errors.js'
import { connectNats, inboxOf, startupRequests } from '../../transport/nats/connect.js'
import type { NatsConnectOptions } from '../../transport/nats/connect.js'
import { DEFAULT_RESULT_EXPIRES_MS } from '../memory/memory-backend.js'
import { LargeResults } from './large-results.js'
import { NatsChords } from './chords.js'
import { KeyWatches } from './key-watch.js'
import { acrossReconnects } from './reconnect.js'
import { RecordWrites } from './record-writes.js'
import { wireOf, type Wire } from '../../transport/nats/wire.js'
import { requestsOf, type Requests } from '../../transport/nats/requests.js'
import { ensureReplicas, isReplicas, replicasFor } from '../../transport/nats/replicas.js'
import { resultBucketNames } from '../../transport/nats/names.js'
import { READY_STATES } from '../../lifecycle/states.js'
import { loseOnConnectionLoss, PushedRecords, type StatusEvents } from './pushed-records.js'
import { decodeRecord, deliver, encodeRecord, warnUndeliverable } from './record.js'
import { isSafePrefix, taskKey } from './task-key.js'
import type { JetStreamClient } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import { type NatsConnection, type Subscription } from '@nats-io/transport-node'
import type { Announcer, BackendCapabilities, ChordStore, MetaListener, ReplyPush, ResultBackend, TaskMeta } from '../backend.js'
import type { KeyUpdate } from './key-watch.js'
import type { StoredMeta } from './record.js'
import type { ChordRecord } from '../../canvas/data.js'

/** The bucket of `nats://` results unless told otherwise. */
export const DEFAULT_RESULT_BUCKET = 'celeriac-results'

/** Options of {@link NatsKvBackend}. */
export interface NatsKvBackendOptions {
  /** Server URL(s), `nats://[user:pass@]host:port[,host:port]`; needed when no `connection` is given. */
  url?: string
  /** Connection options used with `url` (credentials, `credsFile`, `nkeySeedFile`, `tls` files, `inboxPrefix`); not with `connection`. */
  connectionOptions?: NatsConnectOptions
  /**
   * A connection to share (with the transport, say). When given, the backend uses it and
   * `close()` leaves it open; otherwise the backend opens its own from `url` and closes it.
   */
  connection?: NatsConnection
  /**
   * The bucket's time to live in milliseconds (Celery's `result_expires`): records expire this
   * long after their last store. `0` or `Infinity`: never. Set when the bucket is created; an
   * existing bucket keeps the TTL it was created with. Default: one day.
   */
  resultExpiresMs?: number
  /** KV bucket name (letters, digits, `-`, `_`). Large results go to `<bucket>-large`. Default: `celeriac-results`. */
  bucket?: string
  /**
   * Key prefix, so that several apps can share one bucket: keys become `<prefix>.<task key>`.
   * Dot-separated tokens of letters, digits, `-`, `_`, `/`, `=`. Default: none.
   */
  prefix?: string
  /**
   * Copies JetStream keeps of the bucket, its object store and its chords bucket (1 to 5); an
   * existing bucket with another count is changed where the server allows it. Default: 3 on a
   * cluster of three or more JetStream servers, else 1.
   */
  replicas?: number
  /**
   * How many tasks sent by this process keep a slot for their pushed ready record (see
   * {@link NatsKvBackend.push}); past it, the oldest `get()` watches and reads. Default: 100,000.
   */
  pushedCapacity?: number
}

/** Tasks sent by one process whose pushed ready records it keeps for `get()`, unless told otherwise. */
export const DEFAULT_PUSHED_CAPACITY = 100_000
/** At most this much of pushed records waits for a `get()`; past it the oldest are read when asked for. */
const PUSHED_MAX_BYTES = 64 * 1024 * 1024
/**
 * How long a `get()` counts on its pushed record before it also watches and reads: a push lost
 * with a worker's server (core NATS is at most once) would otherwise leave it waiting forever.
 * Above a JetStream leader election (4-9 s), so a failover does not send every waiter to a read.
 */
const PUSH_GRACE_MS = 10_000
/** How long close() waits for record writes in flight: a live server acks in milliseconds, a dead one never. */
const CLOSE_WAIT_MS = 5_000

interface Connected {
  nc: NatsConnection
  js: JetStreamClient
  kv: KV
  /** Reads a key's record with one direct-get request, or through `kv` when the bucket has no direct gets. */
  read: (key: string) => Promise<Uint8Array | undefined>
  large: LargeResults
  /** The connection's reply mux: result writes wait for their JetStream ack through it. */
  requests: Requests
  watches: KeyWatches
  chords: NatsChords
  /** Writes records in order per task (record-writes.ts). */
  writes: RecordWrites
  /** The connection's fast publishes (wire.ts). */
  wire: Wire
  /** The subscription to the reply subject (see {@link NatsKvBackend.push}), and the connection events that void pushes. */
  replies: { subscription: Subscription; status: StatusEvents }
}

/**
 * Adds the republish setting to a bucket created before it was used (or by another version),
 * and sets its TTL to `ttlMs` when the app asked for one (`resultExpires` set, not the default)
 * and the bucket has another: a client command run without the app (`celeriac call`) may have
 * made the bucket first, with the default. Answers whether the bucket allows direct gets
 * (every bucket created on 2.9 or later does).
 */
async function ensureRepublish(nc: NatsConnection, stream: string, republish: { src: string; dest: string }, replicas: number, ttlMs: number | undefined): Promise<boolean> {
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(stream)
  const bucketTtlMs = millis(info.config.max_age ?? 0)
  const current = info.config.republish
  const ttlChanges = ttlMs !== undefined && bucketTtlMs !== ttlMs
  if (ttlChanges && bucketTtlMs !== DEFAULT_RESULT_EXPIRES_MS) {
    // Another app asked for another TTL: the two change it back and forth, and each change is
    // said. From the default (made by a process without the app) it changes silently.
    const shown = (ms: number) => (ms === 0 ? 'for ever' : `for ${ms / 1000} s`)
    process.emitWarning(`the results bucket (stream ${stream}) kept results ${shown(bucketTtlMs)}; it now keeps them ${shown(ttlMs)}, this app's resultExpires`, { type: 'CeleriacWarning', code: 'CELERIAC_RESULT_EXPIRES' })
  }
  // The server refuses a duplicate window longer than the max age (KV sets it to 2 min).
  const window = ttlChanges && ttlMs > 0 && (info.config.duplicate_window ?? 0) > nanos(ttlMs) ? { duplicate_window: nanos(ttlMs) } : {}
  const config = { ...info.config, republish, ...(ttlChanges ? { max_age: nanos(ttlMs), ...window } : {}) }
  if (ttlChanges || current?.src !== republish.src || current?.dest !== republish.dest) await jsm.streams.update(stream, config)
  await ensureReplicas(jsm, stream, replicas, 'the results bucket', config)
  return info.config.allow_direct === true
}

/**
 * A {@link ResultBackend} on a JetStream KV bucket: `store` is a `kv.put` (resolved by the
 * JetStream ack), `get` is `kv.get`, `watch` is a watch on the task's key that sees only later
 * writes.
 *
 * @remarks
 * Records are msgpack-encoded TaskMetas under the task id (or a reversible encoding of it when
 * it is not a valid key, see `task-key.ts`). History is 1: only the latest record is kept. A
 * record larger than the connection's `max_payload` keeps its result in the object store
 * `<bucket>-large` and holds a reference; `get` and watches resolve it transparently.
 *
 * `forget` purges the key (removing its history) rather than deleting it: either way the
 * server keeps a small marker, which the bucket TTL removes in time. A read of a deleted or
 * purged key, like a missing one, is `undefined`; watches skip the markers. Expiry by TTL
 * emits no watch event (nats-server 2.9).
 *
 * Watches are plain subscriptions to the bucket's republish subjects (see key-watch.ts).
 * @example
 * const backend = new NatsKvBackend({ url: 'nats://127.0.0.1:4222', resultExpiresMs: 3_600_000 })
 * await backend.connect()
 * await backend.store({ taskId: 'a1', state: 'SUCCESS' })
 */
export class NatsKvBackend implements ResultBackend {
  readonly kind = 'nats'
  readonly capabilities: BackendCapabilities = NATS_CAPABILITIES
  /**
   * Workers push the ready records of tasks this process sends to `push.replyTo` (besides
   * storing them), so that `get()` on such a task needs no watch and no read. Set once connected.
   */
  readonly push: ReplyPush
  /** Sends a record to the task's watchers on the republish subject, without a KV write. */
  readonly announce: Announcer = {
    send: async (meta) => {
      const { watches } = this.#live ?? (await this.#ready())
      watches.announce(this.#key(meta.taskId), encodeRecord(meta))
    },
  }
  /** Keeps chords in `<bucket>-chords` until their header is done (see chords.ts). */
  readonly chords: ChordStore = {
    start: async (chord) => (await this.#ready()).chords.start(chord),
    partReturn: async (id, indices, size) => (await this.#ready()).chords.partReturn(id, indices, size),
  }
  /** The KV bucket name. */
  readonly bucket: string
  /** The bucket TTL asked for, in milliseconds; `0` means never. */
  readonly resultExpiresMs: number
  readonly #url: string | undefined
  readonly #connectionOptions: NatsConnectOptions | undefined
  readonly #shared: NatsConnection | undefined
  readonly #prefix: string
  /** `resultExpiresMs` was asked for (not the default): the bucket's TTL is set to it (see ensureRepublish). */
  readonly #ttlAsked: boolean
  readonly #replicas: number | undefined
  // Under the connection's inbox prefix, which is known once it is open.
  #replyTo = ''
  readonly #pushed: PushedRecords<StoredMeta>
  #listening = false
  #connected: Promise<Connected> | undefined
  /**
   * What {@link #connected} resolved to, once it has: the store path writes in the caller's turn
   * instead of a microtask later, behind whatever else that turn queued (about 20 us per result
   * on the way to the caller, measured with stage timestamps of 1,500 round trips).
   */
  #live: Connected | undefined
  #closed = false

  constructor(options: NatsKvBackendOptions) {
    if (typeof options?.url !== 'string' && options?.connection === undefined) {
      throw new InvalidArgumentError('options.url must be a NATS URL when no options.connection is given')
    }
    const expires = options.resultExpiresMs ?? DEFAULT_RESULT_EXPIRES_MS
    if (typeof expires !== 'number' || !(expires >= 0)) {
      throw new InvalidArgumentError('options.resultExpiresMs must be a non-negative number of milliseconds')
    }
    const bucket = options.bucket ?? DEFAULT_RESULT_BUCKET
    if (typeof bucket !== 'string' || !/^[-\w]+$/.test(bucket)) {
      throw new InvalidArgumentError('options.bucket must be a non-empty string of letters, digits, "-" and "_"')
    }
    if (options.prefix !== undefined && (typeof options.prefix !== 'string' || !isSafePrefix(options.prefix))) {
      throw new InvalidArgumentError('options.prefix must be dot-separated tokens of letters, digits, "-", "_", "/" and "="')
    }
    if (options.replicas !== undefined && !isReplicas(options.replicas)) throw new InvalidArgumentError('options.replicas must be an integer from 1 to 5')
    this.#replicas = options.replicas
    this.#url = options.url
    this.#connectionOptions = options.connectionOptions
    this.#shared = options.connection
    this.bucket = bucket
    this.resultExpiresMs = expires === Infinity ? 0 : expires
    this.#ttlAsked = expires !== DEFAULT_RESULT_EXPIRES_MS
    this.#prefix = options.prefix === undefined ? '' : `${options.prefix}.`
    this.#pushed = new PushedRecords(options.pushedCapacity ?? DEFAULT_PUSHED_CAPACITY, PUSHED_MAX_BYTES, PUSH_GRACE_MS)
    const backend = this
    this.push = {
      get replyTo() {
        return backend.#listening ? backend.#replyTo : undefined
      },
      expect: (taskId) => this.#pushed.expect(taskId),
      forgo: (taskId) => this.#pushed.forgo(taskId),
      awaitReady: (taskId, onReady, onLost) => this.#awaitReady(taskId, onReady, onLost),
    }
  }

  #awaitReady(taskId: string, onReady: MetaListener, onLost: () => void): (() => void) | undefined {
    const connected = this.#connected
    if (!this.#listening || connected === undefined) return undefined
    return this.#pushed.await(
      taskId,
      (stored) => {
        if (stored.resultRef === undefined) return deliver(onReady, stored)
        void connected
          .then((c) => this.#resolve(c, stored, this.#key(taskId)))
          .then((meta) => (meta === undefined ? onLost() : deliver(onReady, meta)), onLost)
      },
      onLost,
    )
  }

  /** Opens the connection (unless shared) and the bucket, creating it if needed. Idempotent. */
  connect(): Promise<void> {
    return this.#ready().then(() => undefined)
  }

  /** Stops every watch, then closes the connection if the backend opened it. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#live = undefined
    const connected = await this.#connected?.catch(() => undefined)
    // Records still on their way (a stopping worker's last outcomes) are waited for, a while:
    // closing under them would lose results that their tasks produced.
    if (connected) await Promise.race([connected.writes.settled(), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())])
    connected?.watches.stopAll()
    connected?.replies.subscription.unsubscribe()
    connected?.replies.status.stop?.()
    this.#listening = false
    this.#pushed.clear()
    if (connected && this.#shared === undefined) await connected.nc.close().catch(() => undefined)
  }

  // Not async: every task's result goes through here (see record-writes.ts).
  store(meta: TaskMeta): Promise<void> {
    if (typeof meta?.taskId !== 'string' || meta.taskId === '') {
      return Promise.reject(new InvalidArgumentError('meta.taskId must be a non-empty string'))
    }
    const connected = this.#live
    const key = this.#key(meta.taskId)
    return connected === undefined ? this.#ready().then((c) => c.writes.write(c, key, meta)) : connected.writes.write(connected, key, meta)
  }

  async get(taskId: string): Promise<TaskMeta | undefined> {
    const connected = await this.#ready()
    const key = this.#key(taskId)
    const stored = await this.#read(connected, key)
    if (stored?.resultRef === undefined) return stored
    const resolved = await this.#resolve(connected, stored, key)
    if (resolved !== undefined) return resolved
    // The object is gone: either the record was forgotten meanwhile (then it reads as
    // unknown), or the two disagree, which is worth an error.
    if ((await this.#read(connected, key)) === undefined) return undefined
    throw new BackendError(`nats backend: the large result of task ${taskId} is missing from object store ${connected.large.bucket} (bucket ${this.bucket}, key ${key})`)
  }

  async forget(taskId: string): Promise<void> {
    const connected = await this.#ready()
    const { kv, large } = connected
    const key = this.#key(taskId)
    // A value that does not decode is still purged: forget is how such a key is cleaned up.
    this.#pushed.forget(taskId)
    const stored = await this.#read(connected, key).catch(() => undefined)
    try {
      await kv.purge(key)
    } catch (error) {
      throw this.#error(`cannot forget task ${taskId}`, key, error)
    }
    if (stored?.resultRef !== undefined) await large.delete(stored.resultRef.object)
  }

  async watch(taskId: string, listener: MetaListener, onUnreadable: (error: Error) => void = warnUndeliverable): Promise<() => void> {
    const connected = await this.#ready()
    const key = this.#key(taskId)
    let active = true
    // Records that need a fetch from the object store are delivered through this chain, so
    // that a small record stored after a large one still arrives after it.
    let pending: Promise<void> | undefined
    const where = `bucket ${this.bucket}, key ${key}`
    const onUpdate = (update: KeyUpdate) => {
      if (!active || update.operation !== 'PUT') return
      let stored: StoredMeta
      try {
        stored = decodeRecord(update.value, where)
      } catch (error) {
        return onUnreadable(error as Error)
      }
      if (stored.resultRef === undefined && pending === undefined) return deliver(listener, stored)
      const next: Promise<void> = (pending ?? Promise.resolve())
        .then(() => (stored.resultRef === undefined ? stored : this.#resolve(connected, stored, key)))
        .then((meta) => {
          if (!active) return
          if (meta === undefined) warnUndeliverable(new BackendError(`nats backend: the large result at ${where} was gone before the watch could read it`))
          else deliver(listener, meta)
        })
        .catch(warnUndeliverable)
        .finally(() => {
          if (pending === next) pending = undefined
        })
      pending = next
    }
    let handle
    try {
      handle = await connected.watches.watch(key, onUpdate)
    } catch (error) {
      throw this.#error(`cannot watch task ${taskId}`, key, error)
    }
    if (this.#closed) {
      handle.stop()
      throw closedError()
    }
    return () => {
      if (!active) return
      active = false
      handle.stop()
    }
  }

  #key(taskId: string): string {
    return this.#prefix + taskKey(taskId)
  }

  async #read({ nc, read }: Pick<Connected, 'nc' | 'read'>, key: string): Promise<StoredMeta | undefined> {
    let value
    try {
      value = await acrossReconnects(nc, () => read(key))
    } catch (error) {
      throw this.#error('cannot read', key, error)
    }
    return value === undefined ? undefined : decodeRecord(value, `bucket ${this.bucket}, key ${key}`)
  }

  /** The record with its result read back from the object store; `undefined` if the object is gone. */
  async #resolve({ large }: Connected, stored: StoredMeta, key: string): Promise<TaskMeta | undefined> {
    const { resultRef, ...meta } = stored
    if (resultRef === undefined) return meta
    const result = await large.get(resultRef).catch((error: unknown) => {
      throw this.#error('cannot read the large result', key, error)
    })
    return result === undefined ? undefined : { ...meta, result }
  }

  #ready(): Promise<Connected> {
    if (this.#closed) return Promise.reject(closedError())
    this.#connected ??= this.#open().then(
      (connected) => {
        if (!this.#closed) this.#live = connected
        return connected
      },
      (error: unknown) => {
        // A failed connect must not stick: the next call tries again.
        this.#connected = undefined
        throw error
      },
    )
    return this.#connected
  }

  async #open(): Promise<Connected> {
    const nc = this.#shared ?? (await connectNats(this.#url!, this.#connectionOptions).catch((error: unknown) => {
      throw new BackendError(`nats backend: ${(error as Error).message}`, { cause: error })
    }))
    try {
      const js = jetstream(nc)
      // History 1: the contract keeps only the latest record of a task. Republish turns every
      // write into a core NATS message, so a watch is a subscription (see key-watch.ts).
      const names = resultBucketNames(this.bucket)
      const replicas = replicasFor(nc, this.#replicas)
      const republish = names.republish
      // Both are idempotent (create or bind; read, then update if needed): opening the bucket
      // is asked again while JetStream cannot answer yet (a server restart, a leader election),
      // for STARTUP_RETRY_MS in all, as the transport's setup is.
      const ask = startupRequests(nc)
      const kv = await ask(`opening the results bucket (stream ${names.stream})`, () => new Kvm(js).create(this.bucket, { history: 1, ttl: this.resultExpiresMs, republish, replicas } as Parameters<Kvm['create']>[1]))
      const direct = await ask(`reading the settings of the results bucket (stream ${names.stream})`, () => ensureRepublish(nc, names.stream, republish, replicas, this.#ttlAsked ? this.resultExpiresMs : undefined))
      const large = new LargeResults(nc, names.large, this.resultExpiresMs, replicas)
      const read = direct ? directRead(nc, this.bucket) : async (key: string) => {
        const entry = await kv.get(key)
        return entry === null || entry.operation !== 'PUT' ? undefined : entry.value
      }
      const replies = this.#listen(nc)
      const watches = new KeyWatches(nc, this.bucket)
      // Once the server has the reply subscription, a task sent from now on cannot answer before it.
      await watches.flushSoon()
      this.#listening = true
      return { nc, js, kv, read, large, requests: requestsOf(nc), wire: wireOf(nc), watches, replies, chords: new NatsChords(nc, names.chords, this.resultExpiresMs, large, replicas), writes: new RecordWrites(this.bucket, (what, key, cause) => this.#error(what, key, cause)) }
    } catch (error) {
      if (this.#shared === undefined) await nc.close().catch(() => undefined)
      throw new BackendError(`nats backend: cannot open bucket ${this.bucket}: ${(error as Error).message}`, { cause: error })
    }
  }

  /** Subscribes to the reply subject; pushes lost to a disconnect or a slow consumer void every wait. */
  #listen(nc: NatsConnection): Connected['replies'] {
    this.#replyTo ||= inboxOf(nc)
    const subscription = nc.subscribe(this.#replyTo, {
      callback: (error, msg) => {
        if (error !== null) return this.#pushed.lose()
        let stored: StoredMeta
        try {
          stored = decodeRecord(msg.data, `the reply subject ${this.#replyTo}`)
        } catch {
          // Not a record: only the stored one counts.
          return
        }
        if (!READY_STATES.has(stored.state)) return
        // A copy: msgpack hands binary back as a view of the client's read buffer.
        if (stored.result !== undefined) stored.result = stored.result.slice()
        this.#pushed.arrive(stored.taskId, stored, msg.data.byteLength)
      },
    })
    return { subscription, status: loseOnConnectionLoss(nc, this.#pushed) }
  }

  #error(what: string, key: string, cause: unknown): BackendError {
    if (cause instanceof BackendError) return cause
    return new BackendError(`nats backend: ${what} (bucket ${this.bucket}, key ${key}): ${(cause as Error)?.message ?? String(cause)}`, { cause })
  }
}

/**
 * A KV read as one direct get of the key's last message, through the connection's reply mux
 * (`kv.get` costs a nats.js request: an Error and a timer per call). `undefined`: no record,
 * or a delete or purge marker.
 */
function directRead(nc: NatsConnection, bucket: string): (key: string) => Promise<Uint8Array | undefined> {
  const requests = requestsOf(nc)
  const base = `$JS.API.DIRECT.GET.KV_${bucket}.$KV.${bucket}.`
  return async (key) => {
    const msg = await requests.request(base + key, EMPTY)
    const code = msg.headers?.code ?? 0
    if (code === 404) return undefined
    if (code !== 0) throw new Error(`direct get answered ${code} ${msg.headers?.description ?? ''}`.trimEnd())
    const operation = msg.headers?.get('KV-Operation')
    return operation === 'DEL' || operation === 'PURGE' ? undefined : msg.data
  }
}

const EMPTY = new Uint8Array(0)

/** A KV bucket keeps records and chords; the reply subject and the republish subjects carry the rest. */
const NATS_CAPABILITIES: BackendCapabilities = Object.freeze({ stores: true, chords: true, announce: true, push: true, local: false })

function closedError(): BackendError {
  return new BackendError('nats backend is closed')
}
