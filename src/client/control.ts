import { InvalidArgumentError } from '../errors.js'
import { msgpackCodec } from '../serialization/codec.js'
import { toMs, type Duration } from '../util/duration.js'
import { parseRateLimit } from '../util/rate-limit.js'
import type { ConfigValues } from '../config/defaults.js'
import type { Transport } from '../transport/transport.js'

/** Subject of control commands that act (revoke, shutdown...); every node listens, and answers when a reply is asked for. */
export const CONTROL_SUBJECT = 'celeriac.control.broadcast'

/**
 * Subject of the read-only commands ({@link InspectCommands}): a subject of their own, so a
 * monitoring user can be allowed to inspect nodes and not to act on them. Nodes refuse any
 * other command sent here.
 */
export const INSPECT_SUBJECT = 'celeriac.control.inspect'

/** What nodes subscribe to: both control subjects. */
export const CONTROL_PATTERN = 'celeriac.control.*'

/** How long a control command collects replies when no `timeout` is given, seconds (Celery's). */
export const DEFAULT_CONTROL_TIMEOUT = 1

/** Every command a worker node answers: the inspect commands read, the others act. */
export const ControlCommands = [
  'ping', 'active', 'scheduled', 'reserved', 'registered', 'stats', 'revoked', 'conf',
  'rate_limit', 'time_limit', 'revoke', 'enable_events', 'disable_events', 'add_consumer',
  'cancel_consumer', 'pool_grow', 'pool_shrink', 'shutdown',
] as const
export type ControlCommandName = (typeof ControlCommands)[number]

/** The commands that only read: sent on {@link INSPECT_SUBJECT}. */
export const InspectCommands: ReadonlySet<ControlCommandName> = new Set(['ping', 'active', 'scheduled', 'reserved', 'registered', 'stats', 'revoked', 'conf'])

/** The subject a command is sent on. */
export function controlSubject(command: ControlCommandName): string {
  return InspectCommands.has(command) ? INSPECT_SUBJECT : CONTROL_SUBJECT
}

/** A control command as sent to nodes. */
export interface ControlRequest {
  command: ControlCommandName
  arguments: Record<string, unknown>
  /** Only these nodes act and answer; every node when absent. */
  destination?: string[]
}

/** One node's answer: `ok` with the command's value, or `error` with why it refused. */
export type ControlReply<T = unknown> = { ok: T; error?: undefined } | { ok?: undefined; error: string }

/**
 * Replies by node name; an empty object when no node answered within the timeout. Two nodes
 * answering under one name (a duplicate `-n`) are both kept, as `name (pid N)` each.
 */
export type ControlReplies<T = unknown> = Record<string, ControlReply<T>>

/** A task on a node, as `inspect active` / `reserved` show it (Celery's fields, camelCase). */
export interface TaskInfo {
  id: string
  name: string
  args: unknown[] | undefined
  kwargs: Record<string, unknown> | null | undefined
  hostname: string
  /** When its thread started it, epoch ms; `null` while it waits for a thread. */
  timeStart: number | null
  acknowledged: boolean
  deliveryInfo: { queue: string; exchange: string; routingKey: string; priority: number; redelivered: boolean }
  workerPid: number
}

/** A task with an eta the node saw early and handed back to the broker to hold until due. */
export interface ScheduledTaskInfo {
  eta: number
  priority: number
  request: Pick<TaskInfo, 'id' | 'name' | 'hostname' | 'deliveryInfo'>
}

/** `inspect stats`: what a node is and has done. */
export interface WorkerStats {
  hostname: string
  pid: number
  /** Seconds since the node started. */
  uptime: number
  /**
   * `prefetchMultiplier` is the deprecated name of `tasksPerThread`, kept for readers of it;
   * `lookaheadMs`: how far ahead the node reserves tasks beyond its free slots (0: none);
   * `held`: threads whose event loop a task has held for over 50 ms (a CPU-bound or
   * synchronous task), which get no new tasks until it lets go.
   */
  pool: { threads: number; tasksPerThread: number; prefetchMultiplier: number; lookaheadMs: number; held: number }
  /** Tasks finished since start, by task name. */
  total: Record<string, number>
  active: number
  queues: string[]
  broker: { transport: string; url: string }
  events: boolean
  /** Resident set size of the process, KiB. */
  rssKb: number
}

/** Options of every control call. */
export interface ControlOptions {
  /** Node names to address (`'w1@host'` or a list); every node when absent. */
  destination?: string | readonly string[] | undefined
  /** How long to collect replies, seconds. @default 1 */
  timeout?: Duration | undefined
}

/** Options of {@link Control.broadcast}. */
export interface BroadcastOptions extends ControlOptions {
  arguments?: Record<string, unknown>
  /** Wait for replies. @default true */
  reply?: boolean
}

/**
 * `app.control.inspect()`: read-only commands. Each resolves to the replies by node name,
 * collected until the timeout (or until every `destination` node answered).
 */
export class Inspect {
  readonly #control: Control
  readonly #options: ControlOptions

  constructor(control: Control, options: ControlOptions) {
    this.#control = control
    this.#options = options
  }

  /** Tasks running on a thread. */
  active(): Promise<ControlReplies<TaskInfo[]>> {
    return this.#control.broadcast('active', this.#options)
  }
  /** Tasks with an eta seen early and held by the broker until due. */
  scheduled(): Promise<ControlReplies<ScheduledTaskInfo[]>> {
    return this.#control.broadcast('scheduled', this.#options)
  }
  /** Tasks received and waiting for a thread (or their rate limit). */
  reserved(): Promise<ControlReplies<TaskInfo[]>> {
    return this.#control.broadcast('reserved', this.#options)
  }
  /** Names of the tasks each node serves. */
  registered(): Promise<ControlReplies<string[]>> {
    return this.#control.broadcast('registered', this.#options)
  }
  stats(): Promise<ControlReplies<WorkerStats>> {
    return this.#control.broadcast('stats', this.#options)
  }
  /** Revoked task ids each node knows. */
  revoked(): Promise<ControlReplies<string[]>> {
    return this.#control.broadcast('revoked', this.#options)
  }
  /** Each node's configuration, credentials censored. */
  conf(): Promise<ControlReplies<Record<string, unknown>>> {
    return this.#control.broadcast('conf', this.#options)
  }
  ping(): Promise<ControlReplies<'pong'>> {
    return this.#control.broadcast('ping', this.#options)
  }
}

/**
 * Remote control of the cluster's worker nodes (Celery's `app.control`): a command goes to
 * every node, or to the `destination` nodes, and the replies are collected until the timeout.
 * @example
 * const replies = await app.control.inspect({ timeout: 2 }).active()
 * await app.control.rateLimit('tasks.add', '10/m', { destination: 'w1@host' })
 */
export class Control {
  readonly #transport: () => Promise<Transport>
  readonly #conf: () => Readonly<ConfigValues>

  constructor(transport: () => Promise<Transport>, conf: () => Readonly<ConfigValues>) {
    this.#transport = transport
    this.#conf = conf
  }

  /** Sends any command; the typed methods below are shorthands. */
  async broadcast<T = unknown>(command: ControlCommandName, options: BroadcastOptions = {}): Promise<ControlReplies<T>> {
    if (!ControlCommands.includes(command)) throw new InvalidArgumentError(`unknown control command ${JSON.stringify(command)} (known: ${ControlCommands.join(', ')})`)
    const destination = options.destination === undefined ? undefined : typeof options.destination === 'string' ? [options.destination] : [...options.destination]
    if (destination?.length === 0) throw new InvalidArgumentError('options.destination must name at least one node')
    const timeoutMs = toMs(options.timeout ?? DEFAULT_CONTROL_TIMEOUT, 'options.timeout')
    if (timeoutMs <= 0) throw new InvalidArgumentError('options.timeout must be more than 0')
    const request: ControlRequest = { command, arguments: options.arguments ?? {}, ...(destination ? { destination } : {}) }
    const transport = await this.#transport()
    const data = msgpackCodec.encode(request)
    if (options.reply === false) {
      transport.broadcast(controlSubject(command), data)
      return {}
    }
    // A user not allowed to send it gets a PermissionError naming the subject (see the transport).
    const raw = await transport.request(controlSubject(command), data, { timeoutMs, ...(destination ? { max: destination.length } : {}) })
    const decoded = raw.map((bytes) => msgpackCodec.decode(bytes) as ControlReply<T> & { hostname: string; pid?: number })
    const count = new Map<string, number>()
    for (const { hostname } of decoded) count.set(hostname, (count.get(hostname) ?? 0) + 1)
    const replies: ControlReplies<T> = {}
    for (const { hostname, pid, ...reply } of decoded) {
      let key = count.get(hostname)! > 1 ? `${hostname} (pid ${pid ?? '?'})` : hostname
      // Same name and same pid: nodes on two machines; numbered so neither is lost.
      for (let n = 2; Object.hasOwn(replies, key); n++) key = `${hostname} (pid ${pid ?? '?'} #${n})`
      replies[key] = reply as ControlReply<T>
    }
    return replies
  }

  /** The read-only commands, for `destination` nodes or all. */
  inspect(options: ControlOptions = {}): Inspect {
    return new Inspect(this, options)
  }

  /** Nodes that answer, each with `{ ok: 'pong' }`. */
  ping(options: ControlOptions = {}): Promise<ControlReplies<'pong'>> {
    return this.broadcast('ping', options)
  }

  /** Sets a task's rate limit on the nodes (`'10/m'`, `'5/s'`, a number per second, 0 for none). */
  rateLimit(task: string, rateLimit: string | number, options: ControlOptions = {}): Promise<ControlReplies<string>> {
    parseRateLimit(rateLimit, 'rateLimit')
    return this.broadcast('rate_limit', { ...options, arguments: { task, rateLimit } })
  }

  /** Sets a task's soft and hard time limits on the nodes, seconds (`null` removes one). */
  timeLimit(task: string, limits: { soft?: Duration | null; hard?: Duration | null }, options: ControlOptions = {}): Promise<ControlReplies<string>> {
    for (const key of ['soft', 'hard'] as const) if (limits[key] !== undefined && limits[key] !== null) toMs(limits[key], `limits.${key}`)
    return this.broadcast('time_limit', { ...options, arguments: { task, soft: limits.soft ?? null, hard: limits.hard ?? null } })
  }

  /**
   * Revokes tasks: every node, including nodes started later (within `workerRevokeExpires`),
   * discards their messages; with `terminate`, a node running one terminates its thread.
   * Replies are collected only with `reply: true`.
   */
  async revoke(ids: string | readonly string[], options: ControlOptions & { terminate?: boolean; reply?: boolean } = {}): Promise<ControlReplies<string>> {
    const list = typeof ids === 'string' ? [ids] : Array.isArray(ids) ? [...ids] : undefined
    if (list === undefined || list.some((id) => typeof id !== 'string' || id === '')) {
      throw new InvalidArgumentError(`revoke: give a task id or an array of them, got ${JSON.stringify(ids)}`)
    }
    if (list.length === 0) return {}
    const transport = await this.#transport()
    const ttl = toMs(this.#conf().workerRevokeExpires, 'config.workerRevokeExpires')
    await Promise.all(list.map((id) => transport.revoke(id, ttl)))
    return this.broadcast('revoke', { ...options, reply: options.reply ?? false, arguments: { ids: list, terminate: options.terminate ?? false } })
  }

  /** Turns task events on. */
  enableEvents(options: ControlOptions = {}): Promise<ControlReplies<string>> {
    return this.broadcast('enable_events', options)
  }

  /** Turns task events off (worker heartbeats go on). */
  disableEvents(options: ControlOptions = {}): Promise<ControlReplies<string>> {
    return this.broadcast('disable_events', options)
  }

  /** Makes the nodes consume `queue` too (declared if missing). */
  addConsumer(queue: string, options: ControlOptions = {}): Promise<ControlReplies<string>> {
    return this.broadcast('add_consumer', { ...options, arguments: { queue } })
  }

  /** Makes the nodes stop consuming `queue`. */
  cancelConsumer(queue: string, options: ControlOptions = {}): Promise<ControlReplies<string>> {
    return this.broadcast('cancel_consumer', { ...options, arguments: { queue } })
  }

  /** Adds `n` threads to each node's pool. A node answers at once ('pool will grow to 3 threads'); its threads start after. */
  poolGrow(n = 1, options: ControlOptions = {}): Promise<ControlReplies<string>> {
    return this.broadcast('pool_grow', { ...options, arguments: { n } })
  }

  /** Removes `n` threads from each node's pool (once their tasks are done; one always stays). */
  poolShrink(n = 1, options: ControlOptions = {}): Promise<ControlReplies<string>> {
    return this.broadcast('pool_shrink', { ...options, arguments: { n } })
  }

  /** Warm-stops the nodes: running tasks finish, then each node exits. */
  shutdown(options: ControlOptions = {}): Promise<ControlReplies<string>> {
    return this.broadcast('shutdown', options)
  }
}
