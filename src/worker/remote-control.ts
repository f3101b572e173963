import { InvalidArgumentError } from '../errors.js'
import { censorUrl } from '../config/conf.js'
import { decodeMessage, type TaskBody, type TaskHeaders } from '../protocol/envelope.js'
import { isPlainObject, show } from '../protocol/validate-envelope.js'
import { codecFor, ContentType, msgpackCodec } from '../serialization/codec.js'
import { optionalMs, toMs, type Duration } from '../util/duration.js'
import { parseRateLimit } from '../util/rate-limit.js'
import { CONTROL_PATTERN, CONTROL_SUBJECT, INSPECT_SUBJECT, InspectCommands, type ControlCommandName, type ControlRequest, type ScheduledTaskInfo, type TaskInfo, type WorkerStats } from '../client/control.js'
import type { ControlDeps } from './worker-deps.js'
import type { InFlight } from './in-flight.js'
import type { ResolvedWorkerOptions } from './worker-options.js'
import type { Delivery, Subscription, Transport } from '../transport/transport.js'
import { isBuiltinTask } from '../client/task-handle.js'

/**
 * The most threads remote control may give a node's pool (and the largest `n` of pool_grow and
 * pool_shrink). Each thread is a V8 isolate of its own, some 10 MB before it runs anything: 1,024
 * is far past what any machine runs usefully and far short of what exhausts its memory, so a typo
 * or a hostile `pool_grow 1e9` is refused instead of spawning threads until the process dies.
 */
export const MAX_POOL_THREADS = 1024

/** What remote control may see and change on its node; the node hands it over at start. */
export interface ControlledNode {
  readonly hostname: string
  readonly options: ResolvedWorkerOptions
  /** When the node started serving, by its clock. */
  readonly startedAt: number
  /** The tasks taken and not settled, each with when its thread started it (0: not yet); see TaskSupervisor.listed. */
  tasks(): [InFlight, number][]
  revokedIds(): string[]
  /** Finished tasks since start, by name. */
  totals(): ReadonlyMap<string, number>
  poolSize(): number
  /** Threads whose event loop a task holds now. */
  threadsHeld(): number
  revoke(ids: string[], terminate: boolean): void
  setEvents(on: boolean): void
  addConsumer(queue: string): Promise<boolean>
  cancelConsumer(queue: string): Promise<boolean>
  grow(n: number): Promise<void>
  shrink(n: number): void
  /** Starts a warm stop (after the reply is sent). */
  shutdown(): void
}

/** Limits set by remote control on one node, by task name, over the tasks' own options. */
export class TaskOverrides {
  readonly #rateLimitMs = new Map<string, number>()
  readonly #timeLimits = new Map<string, { softMs: number | undefined; hardMs: number | undefined }>()

  rateLimitMs(task: string, fallback: number): number {
    return this.#rateLimitMs.get(task) ?? fallback
  }

  softTimeLimitMs(task: string, fallback: number | undefined): number | undefined {
    const limits = this.#timeLimits.get(task)
    return limits ? limits.softMs : fallback
  }

  timeLimitMs(task: string, fallback: number | undefined): number | undefined {
    const limits = this.#timeLimits.get(task)
    return limits ? limits.hardMs : fallback
  }

  setRateLimit(task: string, intervalMs: number): void {
    this.#rateLimitMs.set(task, intervalMs)
  }

  setTimeLimits(task: string, softMs: number | undefined, hardMs: number | undefined): void {
    this.#timeLimits.set(task, { softMs, hardMs })
  }
}

/**
 * A node's side of remote control: answers the commands of `app.control` sent on
 * {@link CONTROL_SUBJECT} that address it (no `destination`, or one naming it).
 */
export class RemoteControl {
  readonly #deps: ControlDeps
  readonly #node: ControlledNode
  readonly #overrides: TaskOverrides
  /** Tasks with an eta this node saw early and gave back to the broker, by id. */
  readonly #scheduled = new Map<string, ScheduledTaskInfo>()

  /** Set by {@link listen}: the transport the commands come through, named in `stats`. */
  #transport: Transport | undefined

  constructor(deps: ControlDeps, node: ControlledNode, overrides: TaskOverrides) {
    this.#deps = deps
    this.#node = node
    this.#overrides = overrides
  }

  /** Listens for commands on `transport`. */
  listen(transport: Transport): Subscription {
    this.#transport = transport
    return transport.subscribe(CONTROL_PATTERN, (subject, data, reply) => {
      // Anyone allowed to publish on the control subjects reaches this: nothing they send may
      // end the process, as an unhandled rejection would.
      this.#handle(data, reply, subject).catch((error: unknown) => this.#deps.logger.error('a control command failed', { error }))
    })
  }

  /** Notes a task handed back to the broker until its eta, for `inspect scheduled`. */
  noteScheduled(headers: TaskHeaders, delivery: Delivery): void {
    this.#scheduled.set(headers.id, {
      eta: headers.eta!,
      priority: delivery.priority,
      request: { id: headers.id, name: headers.task, hostname: this.#node.hostname, deliveryInfo: deliveryInfo(delivery) },
    })
  }

  async #handle(data: Uint8Array, reply: ((data: Uint8Array) => void) | undefined, subject = CONTROL_SUBJECT): Promise<void> {
    let decoded: unknown
    try {
      decoded = msgpackCodec.decode(data)
    } catch (error) {
      return this.#deps.logger.warn('dropped an undecodable control command', { error })
    }
    const request = readRequest(decoded)
    if (typeof request === 'string') return this.#deps.logger.warn(`dropped a malformed control command: ${request}`, { subject })
    if (request.destination && !request.destination.includes(this.#node.hostname)) return
    let answer: Record<string, unknown>
    // Who may send on the inspect subject may only read: a command that acts is refused there.
    if (subject === INSPECT_SUBJECT && !InspectCommands.has(request.command)) {
      answer = { error: `${String(request.command)} is not an inspect command: send it on ${CONTROL_SUBJECT}` }
      this.#deps.logger.warn('refused a control command sent on the inspect subject', { command: request.command })
      return reply?.(msgpackCodec.encode({ hostname: this.#node.hostname, pid: process.pid, ...answer }))
    }
    if (subject !== INSPECT_SUBJECT && subject !== CONTROL_SUBJECT) return
    try {
      answer = { ok: await this.#run(request.command, request.arguments) }
    } catch (error) {
      answer = { error: (error as Error).message }
    }
    this.#deps.logger.debug('control command', { command: request.command, ...answer })
    reply?.(msgpackCodec.encode({ hostname: this.#node.hostname, pid: process.pid, ...answer }))
    if (request.command === 'shutdown') setImmediate(() => this.#node.shutdown())
  }

  async #run(command: ControlCommandName, args: Record<string, unknown>): Promise<unknown> {
    const node = this.#node
    switch (command) {
      case 'ping':
        return 'pong'
      case 'active':
        return this.#tasks().filter(([, started]) => started > 0).map(([item, started]) => this.#info(item, started))
      case 'reserved':
        return this.#tasks().filter(([, started]) => started === 0).map(([item, started]) => this.#info(item, started))
      case 'scheduled':
        return this.#scheduledNow()
      case 'registered':
        return [...this.#deps.tasks.keys()].filter((name) => !isBuiltinTask(name)).sort()
      case 'stats':
        return this.#stats()
      case 'revoked':
        return node.revokedIds()
      case 'conf':
        return { ...this.#deps.conf.censored(), ...this.#runsWith() }
      case 'rate_limit': {
        const task = this.#task(args.task)
        const intervalMs = parseRateLimit(args.rateLimit as string | number, 'rateLimit')
        this.#overrides.setRateLimit(task, intervalMs)
        return intervalMs === 0 ? `rate limit of ${task} disabled` : `new rate limit set successfully`
      }
      case 'time_limit': {
        const task = this.#task(args.task)
        this.#overrides.setTimeLimits(task, optionalMs(args.soft as Duration | null, 'soft'), optionalMs(args.hard as Duration | null, 'hard'))
        return 'time limits set successfully'
      }
      case 'revoke': {
        const ids = args.ids as string[]
        node.revoke(ids, args.terminate === true)
        return `tasks ${ids.join(', ')} flagged as revoked`
      }
      case 'enable_events':
        node.setEvents(true)
        return 'task events enabled'
      case 'disable_events':
        node.setEvents(false)
        return 'task events disabled'
      case 'add_consumer': {
        const queue = this.#queue(args.queue)
        return (await node.addConsumer(queue)) ? `add consumer ${queue}` : `already consuming from ${queue}`
      }
      case 'cancel_consumer': {
        const queue = this.#queue(args.queue)
        // As Celery's, and as add_consumer is: done when nothing is left to do, so a broadcast
        // to every node succeeds on those that never consumed the queue.
        return (await node.cancelConsumer(queue)) ? `no longer consuming from ${queue}` : `was not consuming from ${queue}`
      }
      case 'pool_grow': {
        // Answered at once, as Celery's 'pool will grow': a new thread imports the app before it
        // is ready, which can take longer than the sender waits for replies (1 s by default).
        const n = this.#count(args.n)
        const size = node.poolSize() + n
        if (size > MAX_POOL_THREADS) throw new InvalidArgumentError(`the pool would have ${size} threads, more than the ${MAX_POOL_THREADS} a node may have: it keeps its ${node.poolSize()}`)
        node.grow(n).catch((error: unknown) => this.#deps.logger.error(`pool_grow: could not start ${n} more thread${n === 1 ? '' : 's'}`, { error }))
        return `pool will grow to ${size} threads`
      }
      case 'pool_shrink': {
        const n = this.#count(args.n)
        const before = node.poolSize()
        node.shrink(n)
        const after = node.poolSize()
        // A node keeps one thread: what it could not take away is said, not passed over.
        if (after === before) return `pool stays at ${after} thread${after === 1 ? '' : 's'}: a node keeps at least one`
        return `pool shrunk to ${after} thread${after === 1 ? '' : 's'}${before - after < n ? ` (by ${before - after}, not ${n}: a node keeps at least one)` : ''}`
      }
      case 'shutdown':
        return 'shutting down'
      default:
        throw new InvalidArgumentError(`unknown control command ${JSON.stringify(command)}`)
    }
  }

  /**
   * The worker config keys as this node runs them: its options (`-c`, `--tasks-per-thread`, `-E`,
   * `app.worker({ concurrency })`) win over the app's config, so `inspect conf` shows them.
   * Durations are shown as the config has them unless the node runs with another.
   */
  #runsWith(): Record<string, unknown> {
    const { options } = this.#node
    const conf = this.#deps.conf
    const duration = (key: 'workerLookahead' | 'workerShutdownTimeout', ms: number) => (toMs(conf[key], key) === ms ? {} : { [key]: `${ms}ms` })
    return {
      workerConcurrency: options.concurrency,
      workerTasksPerThread: options.tasksPerThread,
      workerMaxTasksPerChild: options.maxTasksPerChild,
      workerMaxMemoryPerChild: options.maxMemoryPerChild,
      workerSendTaskEvents: options.sendEvents,
      ...duration('workerLookahead', options.lookaheadMs),
      ...duration('workerShutdownTimeout', options.shutdownTimeoutMs),
    }
  }

  #task(name: unknown): string {
    if (typeof name !== 'string' || !this.#deps.tasks.has(name)) throw new InvalidArgumentError(`task ${JSON.stringify(name)} is not registered on ${this.#node.hostname}`)
    return name
  }

  #queue(name: unknown): string {
    if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('queue must be a non-empty string')
    return name
  }

  #count(n: unknown): number {
    if (!Number.isInteger(n) || (n as number) < 1) throw new InvalidArgumentError(`n must be a positive integer, got ${JSON.stringify(n)}`)
    if ((n as number) > MAX_POOL_THREADS) throw new InvalidArgumentError(`n must be at most ${MAX_POOL_THREADS} (the threads a node may have), got ${n as number}`)
    return n as number
  }

  #tasks(): [InFlight, number][] {
    return this.#node.tasks()
  }

  #info(item: InFlight, started: number): TaskInfo {
    const { headers, delivery } = item
    let body: TaskBody | undefined
    try {
      body = codecFor(headers.contentType ?? ContentType.Msgpack).decode(decodeMessage(delivery.body).body) as TaskBody
    } catch {
      // Shown without its arguments; the thread reports the decoding error when it runs.
    }
    return {
      id: headers.id,
      name: headers.task,
      args: body?.[0],
      kwargs: body?.[1],
      hostname: this.#node.hostname,
      timeStart: started > 0 ? started : null,
      acknowledged: item.settled,
      // A copy a node requeued counts the deliveries before it, as the task's own request does.
      deliveryInfo: deliveryInfo(delivery, item.deliveries),
      workerPid: process.pid,
    }
  }

  #scheduledNow(): ScheduledTaskInfo[] {
    const now = this.#deps.clock.now()
    for (const [id, entry] of this.#scheduled) if (entry.eta <= now) this.#scheduled.delete(id)
    return [...this.#scheduled.values()]
  }

  #stats(): WorkerStats {
    const node = this.#node
    return {
      hostname: node.hostname,
      pid: process.pid,
      uptime: Math.round((this.#deps.clock.now() - node.startedAt) / 1000),
      pool: { threads: node.poolSize(), tasksPerThread: node.options.tasksPerThread, prefetchMultiplier: node.options.tasksPerThread, lookaheadMs: node.options.lookaheadMs, held: node.threadsHeld() },
      total: Object.fromEntries(node.totals()),
      active: node.tasks().length,
      queues: [...node.options.queues],
      broker: { transport: this.#transport?.kind ?? 'unknown', url: censorUrl(this.#deps.conf.broker) },
      events: node.options.sendEvents,
      rssKb: Math.round(process.memoryUsage.rss() / 1024),
    }
  }
}

/**
 * A decoded control request checked for the shape of a {@link ControlRequest}, with `destination`
 * as a list; or, when it has another shape, what is wrong with it. `destination` may also be one
 * node's name, and a nil (what msgpack makes of `undefined`) stands for an absent `destination`
 * or `arguments`.
 */
function readRequest(value: unknown): ControlRequest | string {
  if (!isPlainObject(value)) return `the request must be an object, got ${show(value)}`
  const { command, destination, arguments: args } = value
  if (typeof command !== 'string') return `command must be a string, got ${show(command)}`
  const names = typeof destination === 'string' ? [destination] : destination ?? undefined
  if (names !== undefined && !(Array.isArray(names) && names.every((name) => typeof name === 'string'))) {
    return `destination must be a node name or a list of them, got ${show(destination)}`
  }
  if (args != null && !isPlainObject(args)) return `arguments must be an object, got ${show(args)}`
  return { command: command as ControlCommandName, arguments: args ?? {}, ...(names ? { destination: names } : {}) }
}

function deliveryInfo(delivery: Delivery, deliveries = delivery.deliveryCount): TaskInfo['deliveryInfo'] {
  return { queue: delivery.queue, exchange: delivery.exchange, routingKey: delivery.routingKey, priority: delivery.priority, redelivered: deliveries > 1 }
}
