/**
 * The one table of configuration keys and their defaults (Celery's `app/defaults.py`).
 * Docs point here; no default is written anywhere else.
 * @module
 */
import { availableParallelism } from 'node:os'
import type { Duration } from '../util/duration.js'
import type { SerializerName } from '../serialization/codec.js'
import type { ExchangeType } from '../transport/transport.js'
import type { BeatEntryConfig } from '../beat/entry-config.js'

/** Where a task is sent: a queue, or an exchange with a routing key. */
export interface RouteTarget {
  queue?: string | undefined
  exchange?: string | undefined
  routingKey?: string | undefined
  priority?: number | undefined
}

/**
 * `taskRoutes`: an object keyed by exact task name or glob (`'feed.tasks.*'`, `'feed.?'`), or a
 * list of `[name | glob | RegExp, target]` pairs. The first match wins. A target is a
 * {@link RouteTarget} or, as in Celery, just a queue name.
 */
export type TaskRoutes = Record<string, RouteTarget | string> | ReadonlyArray<readonly [string | RegExp, RouteTarget | string]>

/** A queue declared in `taskQueues`, bound to an exchange. */
export interface QueueConfig {
  name: string
  /** @default the default exchange `''`, which routes by queue name */
  exchange?: string | undefined
  /** @default 'direct' */
  exchangeType?: ExchangeType | undefined
  /** Binding key. @default the queue name */
  routingKey?: string | undefined
  /** Deliveries of one message before it is dead-lettered; `null` for unlimited. @default config.brokerMaxDeliver */
  maxDeliver?: number | null | undefined
  /** How old (since it was sent) a message may be when delivered, seconds or a duration string; older ones are dead-lettered (reason `max-age`). @default no limit */
  maxAge?: Duration | undefined
}

/** `natsTls`: paths of PEM files. */
export interface NatsTlsFiles {
  /** CA certificate(s) that sign the server's certificate. */
  ca?: string
  /** Client certificate, for servers that verify clients (mutual TLS). */
  cert?: string
  /** Private key of {@link cert}. */
  key?: string
}

/** Every configuration key, with its meaning, unit and default (in {@link DEFAULTS}). */
export interface ConfigValues {
  /** Broker URL: `memory://[name]` or `nats://host:port`. */
  broker: string
  /** Result backend URL: `memory://[name]`, `nats://`, `rpc://`. */
  backend: string
  /** Task modules to import on worker threads, resolved against the app module's URL. */
  include: readonly string[]
  /** How long results are kept, seconds or a duration string. 0 keeps them forever. */
  resultExpires: Duration
  /** Serializer of task arguments. */
  taskSerializer: SerializerName
  /** Serializer of results and custom-state meta. */
  resultSerializer: SerializerName
  /** Queue of tasks that no route names. */
  taskDefaultQueue: string
  /** Routes by task name; see {@link TaskRoutes}. */
  taskRoutes: TaskRoutes
  /** Queues to declare with their bindings. */
  taskQueues: readonly QueueConfig[]
  /** Declare queues that are used but not in `taskQueues`. */
  createMissingQueues: boolean
  /** Ack after the task ran (and its outcome is stored) instead of before. */
  taskAcksLate: boolean
  /** With `taskAcksLate`, requeue the task when its thread dies instead of failing it. */
  taskRejectOnWorkerLost: boolean
  /** Record STARTED when a task begins. */
  taskTrackStarted: boolean
  /** Hard time limit, seconds; the thread is terminated. `null` for none. */
  taskTimeLimit: Duration | null
  /** Soft time limit, seconds; the task's signal aborts. `null` for none. */
  taskSoftTimeLimit: Duration | null
  /** Default rate limit of every task, e.g. `'10/s'`. `null` for none. */
  taskDefaultRateLimit: string | null
  /** Do not store results. */
  taskIgnoreResult: boolean
  /** Seconds before a retry, when neither countdown nor backoff says otherwise. */
  taskDefaultRetryDelay: Duration
  /** Retries allowed before MaxRetriesExceeded; `null` retries forever. */
  taskMaxRetries: number | null
  /** Check arguments against the task's arity when it is called. */
  taskTyping: boolean
  /** Emit a `task-sent` event for every task sent. */
  taskSendSentEvent: boolean
  /** Worker threads per node: tasks that can use a CPU core at once (Celery's meaning). */
  workerConcurrency: number
  /**
   * Async tasks each thread runs at once (a node holds and pulls concurrency x this, never
   * more). 1, with concurrency 1, runs one task at a time. The default is measured: see
   * BENCHMARKS.md, "Tasks per thread".
   */
  workerTasksPerThread: number
  /**
   * @deprecated The old name of `workerTasksPerThread`; when set (not `null`) it is used in its
   * place. Not Celery's prefetch multiplier: a node holds nothing beyond what its threads run.
   */
  workerPrefetchMultiplier: number | null
  /**
   * How far ahead a node reserves tasks beyond its free slots, as time: as many as it expects to
   * start within this, from how fast it finished tasks lately (short tasks are pulled before a
   * slot frees, long ones are not held back). A reserved task is acked only when it starts.
   * `0`: reserve none. See docs/concurrency.md.
   */
  workerLookahead: Duration
  /** Recycle a thread after this many tasks; `null` never. */
  workerMaxTasksPerChild: number | null
  /** Recycle a thread once its heap exceeds this many KiB; `null` never. */
  workerMaxMemoryPerChild: number | null
  /** Emit task events from workers. */
  workerSendTaskEvents: boolean
  /** Ignore rate limits. */
  workerDisableRateLimits: boolean
  /** How long a revoked id is kept, seconds. */
  workerRevokeExpires: Duration
  /** How long a delivered message may stay unacked before the broker redelivers it, seconds. */
  brokerAckWait: Duration
  /**
   * Deliveries of one message before it is dead-lettered (reason `max-deliveries: delivered N
   * times`), for queues declared without their own limit; `null` for unlimited. Bounded by
   * default so that no message can come back forever: a message that kills whichever worker
   * takes it, or that nobody can settle, stops after this many tries. Every delivery counts:
   * one that ran out of ack wait (a node lost), a nak, a task given back by a node stopping warm.
   * 10 leaves room for several rolling restarts and lost nodes (RabbitMQ's quorum queues
   * default to 20) while a poison message costs at most 10 tries.
   */
  brokerMaxDeliver: number | null
  /**
   * Options passed through to the broker's client: for NATS, any `ConnectionOptions`
   * (`tls: { certFile, keyFile, caFile }`, `authenticator` from a creds file, `user`/`pass`,
   * `token`...). Printed censored.
   */
  brokerTransportOptions: Readonly<Record<string, unknown>>
  /** NATS user name, for servers with `authorization { users }` (or in the URL: `nats://user:pass@host`). Empty: none. */
  natsUser: string
  /** NATS password of {@link natsUser}. Printed censored. Empty: none. */
  natsPassword: string
  /** NATS token, for servers with `authorization { token }` (or in the URL: `nats://token@host`). Printed censored. Empty: none. */
  natsToken: string
  /** Path of a JWT user credentials file (`.creds`), for servers in operator mode. Empty: none. */
  natsCredentials: string
  /** Path of a file holding an NKey user seed (`SU...`), for servers listing `nkey` users. Empty: none. */
  natsNkeySeedFile: string
  /**
   * TLS files, PEM: `ca` verifies the server, `cert` and `key` are the client's for mutual TLS.
   * Any key given turns TLS on, as `tls://` does. `{}`: TLS only with a `tls://` URL.
   */
  natsTls: Readonly<NatsTlsFiles>
  /**
   * Prefix of the reply subjects (inboxes) of this app's NATS connections, instead of
   * `_INBOX`: give each user its own under it (`_INBOX.alice`; workers reply under `_INBOX.`) and allow it only that, so no client can
   * listen to another's replies. Empty: `_INBOX`.
   */
  natsInboxPrefix: string
  /** How long a node waits for running tasks on a warm stop before requeueing them, seconds. */
  workerShutdownTimeout: Duration
  /** Time zone of crontab schedules and cron strings (an IANA name). */
  timezone: string
  /** Periodic tasks by entry name (Celery's `beat_schedule`); see `BeatEntryConfig`. */
  beatSchedule: Readonly<Record<string, BeatEntryConfig>>
  /** Longest a beat sleeps between checks of its schedule, seconds. */
  beatMaxInterval: Duration
  /**
   * How long a beat's leader lease lasts without renewal, seconds: a standby beat takes over
   * this long after the leader died. It is renewed every third of it.
   */
  beatLeaseTime: Duration
  /** On `memory://`: the file keeping each entry's last run across restarts (Celery's `beat_schedule_filename`). */
  beatScheduleFilename: string
  /**
   * Prefix of every NATS subject, stream and KV bucket of the app (letters, digits, `_`, `-`),
   * so that apps sharing a NATS account see nothing of each other's queues, results, revokes
   * and control. The default keeps the names celeriac has always used.
   */
  namespace: string
  /**
   * Copies JetStream keeps of every stream, KV bucket and durable consumer celeriac creates
   * (1 to 5). `null`: 3 when the server is in a cluster of three or more JetStream servers,
   * else 1. R3 survives the loss of one server; each copy costs its disk and a network write
   * per message. An existing stream with another count is changed where the server allows it.
   */
  natsReplicas: number | null
}

export const DEFAULTS = {
  broker: 'memory://',
  backend: 'memory://',
  include: [],
  resultExpires: 86_400,
  taskSerializer: 'msgpack',
  resultSerializer: 'msgpack',
  taskDefaultQueue: 'celery',
  taskRoutes: {},
  taskQueues: [],
  createMissingQueues: true,
  taskAcksLate: false,
  taskRejectOnWorkerLost: false,
  taskTrackStarted: false,
  taskTimeLimit: null,
  taskSoftTimeLimit: null,
  taskDefaultRateLimit: null,
  taskIgnoreResult: false,
  taskDefaultRetryDelay: 180,
  taskMaxRetries: 3,
  taskTyping: true,
  taskSendSentEvent: false,
  workerConcurrency: availableParallelism(),
  workerTasksPerThread: 32,
  workerPrefetchMultiplier: null,
  workerLookahead: '10ms',
  workerMaxTasksPerChild: null,
  workerMaxMemoryPerChild: null,
  workerSendTaskEvents: false,
  workerDisableRateLimits: false,
  workerRevokeExpires: 10_800,
  brokerAckWait: 30,
  brokerMaxDeliver: 10,
  brokerTransportOptions: {},
  natsUser: '',
  natsPassword: '',
  natsToken: '',
  natsCredentials: '',
  natsNkeySeedFile: '',
  natsTls: {},
  natsInboxPrefix: '',
  workerShutdownTimeout: 30,
  timezone: 'UTC',
  beatSchedule: {},
  beatMaxInterval: 300,
  beatLeaseTime: 10,
  beatScheduleFilename: 'celeriac-beat-schedule.json',
  namespace: 'celeriac',
  natsReplicas: null,
} as const satisfies ConfigValues

/** Keys whose values may hold credentials, censored when config is printed. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['broker', 'backend', 'brokerTransportOptions', 'natsPassword', 'natsToken'])
