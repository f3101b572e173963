import { hostname as osHostname } from 'node:os'
import { InvalidArgumentError } from '../errors.js'
import { encodeMessage, type TaskHeaders } from '../protocol/envelope.js'
import { InvalidMessageError, isPlainObject, MESSAGE_LIMITS, validateHeaders } from '../protocol/validate-envelope.js'
import { assertSerializable, codecByName } from '../serialization/codec.js'
import { sendEvent } from '../events/event-stream.js'
import { newTaskId } from '../util/ids.js'
import { checkArity } from '../task/arity.js'
import { currentContext, noteChild } from '../task/task.js'
import { toMs, type Duration } from '../util/duration.js'
import { callbackData } from '../canvas/options-data.js'
import type { Flow } from '../canvas/host.js'
import type { ConfigValues } from '../config/defaults.js'
import type { Router, Route } from '../routing/router.js'
import type { OutgoingMessage, PublishAck, Transport } from '../transport/transport.js'
import type { ResolvedTaskOptions, TaskDefinition } from '../task/definition.js'
import type { Clock } from '../util/clock.js'
import type { Logger } from '../util/logger.js'
import { checkPriority, type CallOptions } from '../canvas/call-options.js'
import { loadOtel, otel } from '../observability/otel.js'
import { tracedSend } from '../observability/tracing.js'

const ORIGIN = `${process.pid}@${osHostname()}`

/** What the publisher needs from its app. */
export interface PublisherContext {
  conf(): Readonly<ConfigValues>
  router(): Router
  transport(): Promise<Transport>
  connectedTransport(): Transport | undefined
  clock: Clock
  logger: Logger
  /** Where this process listens for its tasks' states, when its backend says (rpc://, nats://). */
  replyTo(): string | undefined
  /** A task goes out with this process's {@link replyTo}: its backend may keep the pushed record. */
  expect(taskId: string): void
  /** A send was dropped as a duplicate: no record will be pushed for it. */
  forgo(taskId: string): void
}

/**
 * Turns calls into task messages and publishes them: encodes the arguments once, routes the
 * task, declares missing queues on first use.
 */
export class Publisher {
  readonly #ctx: PublisherContext
  readonly #declared = new Set<string>()
  readonly #declaring = new Map<string, Promise<void>>()

  constructor(ctx: PublisherContext) {
    this.#ctx = ctx
  }

  /**
   * Sends a task; resolves to its id. `definition` is known when the task is registered here.
   * Not `async`: callers may have a hundred thousand sends in flight, and each suspended async
   * frame would stay alive until its turn; bad input still comes back as a rejection.
   */
  send(name: string, args: readonly unknown[], options: CallOptions, definition?: TaskDefinition, resolved?: ResolvedTaskOptions, flow?: Flow): Promise<string> {
    try {
      if (!Array.isArray(args)) throw new InvalidArgumentError(`${name}: args must be an array, got ${typeof args}`)
      const conf = this.#ctx.conf()
      if (definition && resolved?.typing !== false) checkArity(definition, args, options.kwargs)
      assertSerializable(args, `${name} args`)
      if (options.kwargs !== undefined) {
        if (options.kwargs !== null && !isPlainObject(options.kwargs)) throw new InvalidArgumentError(`${name}: options.kwargs must be an object of keyword arguments, got ${JSON.stringify(options.kwargs)}`)
        assertSerializable(options.kwargs, `${name} kwargs`)
      }
      if (options.headers !== undefined) assertSerializable(options.headers, `${name} headers`)
      const codec = codecByName(options.serializer ?? conf.taskSerializer)
      const body = codec.encode([args, options.kwargs ?? null])
      const id = options.taskId ?? newTaskId()
      // What a worker would dead-letter is refused here, where the caller can still fix it.
      if (typeof name !== 'string' || name === '' || name.length > MESSAGE_LIMITS.nameLength) {
        throw new InvalidArgumentError(`task name must be a non-empty string of at most ${MESSAGE_LIMITS.nameLength} characters`)
      }
      if (typeof id !== 'string' || id === '' || id.length > MESSAGE_LIMITS.idLength) {
        throw new InvalidArgumentError(`${name}: options.taskId must be a non-empty string of at most ${MESSAGE_LIMITS.idLength} characters`)
      }
      const headers = this.#headers(id, name, options, resolved)
      headers.contentType = codec.contentType
      if (flow?.chain !== undefined) headers.chain = flow.chain
      if (flow?.chord !== undefined) headers.chord = flow.chord
      const own = this.#ctx.replyTo()
      const replyTo = flow?.replyTo === undefined ? own : (flow.replyTo ?? undefined)
      if (replyTo !== undefined) headers.replyTo = replyTo
      // A task whose result is not stored sends nothing back: nothing to expect.
      if (replyTo !== undefined && replyTo === own && !(options.ignoreResult ?? resolved?.ignoreResult)) this.#ctx.expect(id)
      const route = this.#ctx.router().route(name, options, definition?.options)
      return this.publish(headers, body, route, id)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  #headers(id: string, name: string, options: CallOptions, resolved: ResolvedTaskOptions | undefined): TaskHeaders {
    // Sent while a task runs here (a subtask, Celery's rule): its parent is that task, its root
    // that task's root, unless the caller says otherwise.
    const running = currentContext.getStore()
    const headers = { id, task: name, retries: 0, rootId: options.rootId ?? running?.request.rootId ?? id, origin: ORIGIN } as TaskHeaders
    // Read only when a time is relative to now: most sends have none.
    const now = options.countdown !== undefined || options.expires !== undefined || resolved?.expiresMs !== undefined ? this.#ctx.clock.now() : 0
    if (options.eta !== undefined) headers.eta = inRange(dateMs(options.eta, 'eta'), 'eta')
    else if (options.countdown !== undefined) headers.eta = inRange(now + toMs(options.countdown, 'countdown'), 'countdown')
    if (options.expires !== undefined) headers.expires = inRange(options.expires instanceof Date ? dateMs(options.expires, 'expires') : now + toMs(options.expires, 'expires'), 'expires')
    else if (resolved?.expiresMs !== undefined) headers.expires = inRange(now + resolved.expiresMs, 'the task\'s expires')
    const parentId = options.parentId ?? running?.request.id
    if (parentId !== undefined) {
      headers.parentId = parentId
      if (running !== undefined) noteChild(running, parentId, id)
    }
    if (options.groupId !== undefined) headers.groupId = options.groupId
    if (options.ignoreResult !== undefined) headers.ignoreResult = options.ignoreResult
    if (options.priority !== undefined) headers.priority = checkPriority(options.priority, 'priority')
    if (options.headers !== undefined) headers.headers = options.headers
    if (options.timeLimit !== undefined || options.softTimeLimit !== undefined) {
      headers.timeLimit = [
        options.softTimeLimit === undefined ? null : limitMs(options.softTimeLimit, 'softTimeLimit'),
        options.timeLimit === undefined ? null : limitMs(options.timeLimit, 'timeLimit'),
      ]
    }
    const callbacks = callbackData(options.link, `${name}: options.link`)
    if (callbacks) headers.callbacks = callbacks
    const errbacks = callbackData(options.linkError, `${name}: options.linkError`)
    if (errbacks) headers.errbacks = errbacks
    return headers
  }

  /**
   * Publishes an already encoded task; resolves to its id once the broker has it. Retries reuse
   * the body bytes; each send gets its own dedupe id (`id`, then `id.r1`, ...) because an id
   * stays "seen" after it was acked.
   */
  publish(headers: TaskHeaders, body: Uint8Array, route: Route, msgId: string): Promise<string> {
    try {
      // What every worker would dead-letter, leaving the caller's get() to wait for ever: the
      // checks above name the option; this catches the rest (a JavaScript caller's types).
      validateHeaders(headers as unknown as Record<string, unknown>)
    } catch (error) {
      return Promise.reject(error instanceof InvalidMessageError ? new InvalidArgumentError(`${headers.task}: ${error.message.replace(/^invalid message: headers\./, 'options.')}`) : error)
    }
    // Traced when @opentelemetry/api is installed; its one import may still be on its way.
    const api = otel()
    if (api === undefined) return loadOtel().then(() => this.publish(headers, body, route, msgId))
    if (api !== null) return tracedSend(api, headers, route.queue ?? route.routingKey, () => this.#send(headers, body, route, msgId))
    return this.#send(headers, body, route, msgId)
  }

  #send(headers: TaskHeaders, body: Uint8Array, route: Route, msgId: string): Promise<string> {
    const transport = this.#ctx.connectedTransport()
    if (transport === undefined || (route.queue !== undefined && !this.#declared.has(route.queue))) {
      return this.#prepare(transport, route.queue).then((t) => this.#publish(t, headers, body, route, msgId))
    }
    return this.#publish(transport, headers, body, route, msgId)
  }

  /** Connects, and declares a queue on first use (create missing queues, as Celery does). */
  async #prepare(connected: Transport | undefined, queue: string | undefined): Promise<Transport> {
    const transport = connected ?? (await this.#ctx.transport())
    if (queue !== undefined && !this.#declared.has(queue)) {
      // One declaration per queue, however many sends wait for it.
      let declaring = this.#declaring.get(queue)
      if (!declaring) {
        declaring = transport.declareQueue({ name: queue }).then(() => void this.#declared.add(queue))
        this.#declaring.set(queue, declaring)
        declaring.catch(() => this.#declaring.delete(queue))
      }
      await declaring
    }
    return transport
  }

  #publish(transport: Transport, headers: TaskHeaders, body: Uint8Array, route: Route, msgId: string): Promise<string> {
    const message: OutgoingMessage = { exchange: route.exchange, routingKey: route.routingKey, body: encodeMessage({ headers, body }), msgId }
    if (headers.eta !== undefined) message.notBefore = headers.eta
    const priority = headers.priority ?? route.priority
    if (priority !== undefined) message.priority = priority
    // task-sent carries the time of the send, not of the broker's ack: a worker can receive
    // the task, and say so, before the ack is back.
    const sentAt = this.#ctx.conf().taskSendSentEvent ? this.#ctx.clock.now() : undefined
    // In-process: stored before this returns, so no continuation waits for the ack. A caller
    // may hold a hundred thousand sends at once, each of which would hold one till its turn.
    if (transport.publishNow !== undefined) {
      try {
        return Promise.resolve(this.#sent(transport, headers, route, sentAt, transport.publishNow(message)))
      } catch (error) {
        return Promise.reject(error)
      }
    }
    return transport.publish(message).then((ack) => this.#sent(transport, headers, route, sentAt, ack))
  }

  /** What follows a stored send: the warning for a dropped one, the task-sent event. */
  #sent(transport: Transport, headers: TaskHeaders, route: Route, sentAt: number | undefined, ack: PublishAck): string {
    // A re-sent taskId within the broker's duplicate window: the first send's run is the one
    // that counts, and its record went (or goes) to whoever sent it, maybe not this process.
    if (ack.duplicate) this.#ctx.forgo(headers.id)
    if (!ack.duplicate && ack.queues.length === 0) {
      this.#ctx.logger.warn('task sent to an exchange with no queue bound for its routing key: it was dropped', { task: headers.task, id: headers.id, exchange: route.exchange, routingKey: route.routingKey })
    }
    if (sentAt !== undefined) {
      const event = { type: 'task-sent', uuid: headers.id, name: headers.task, retries: headers.retries, exchange: route.exchange, routingKey: route.routingKey, rootId: headers.rootId, hostname: ORIGIN, timestamp: sentAt } as const
      sendEvent(transport, { ...event, ...(route.queue ? { queue: route.queue } : {}), ...(headers.eta ? { eta: headers.eta } : {}) })
    }
    return headers.id
  }
}

/** `ms`, an eta or expiry, unless a worker would refuse it (before 1970, after 2200). */
function inRange(ms: number, field: string): number {
  if (ms < 0 || ms > MESSAGE_LIMITS.maxEpochMs) throw new InvalidArgumentError(`${field} must fall between 1970 and the year 2200, got ${Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : ms}`)
  return ms
}

/** A per-call time limit in ms: at most the longest a Node timer takes, as a worker requires. */
function limitMs(value: Duration, field: string): number {
  const ms = toMs(value, field)
  if (ms > MESSAGE_LIMITS.timeLimitMs) throw new InvalidArgumentError(`${field} of a call must be at most ${MESSAGE_LIMITS.timeLimitMs / 1000} s (24.8 days), got ${ms / 1000} s; a task's own timeLimit option has no such bound`)
  return ms
}

function dateMs(date: Date, field: string): number {
  const ms = date instanceof Date ? date.getTime() : NaN
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`${field} must be a valid Date`)
  return ms
}

