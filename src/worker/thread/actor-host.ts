import { getHeapStatistics } from 'node:v8'
import { NotRegistered, SerializationError, TaskRejectedError } from '../../errors.js'
import { assertSerializable, codecByName, codecFor, ownBytes, type Codec } from '../../serialization/codec.js'
import { toWireError } from '../../serialization/failure.js'
import { resolveTaskOptions } from '../../task/definition.js'
import { runnableTask, runTask, type RunnableTask, type RunOutcome, type RunPort } from '../../task/run-task.js'
import { systemClock } from '../../util/clock.js'
import { OutcomeBatchWriter, OutcomeKind, readRunBatch, type Outcome, type RunEntry } from '../../protocol/thread-batch.js'
import { decodeMessage, type TaskBody, type TaskHeaders } from '../../protocol/envelope.js'
import { validateBody } from '../../protocol/validate-envelope.js'
import { activeTraceFields, runInTrace } from '../../observability/thread-context.js'
import type { AppRegistration } from './app-module.js'
import type { TaskRequest } from '../../task/context.js'
import type { Logger } from '../../util/logger.js'
import { BEAT_MS, Claim, type MainToThread, type SharedSlots, type ThreadToMain } from '../../protocol/thread-messages.js'

type Post = (message: ThreadToMain, transfer?: ArrayBuffer[]) => void

/**
 * Runs tasks inside a worker thread: one actor per registered task, one instance per task
 * class, many calls in flight (async tasks interleave). Running a call is the task runner's
 * job (task/run-task.ts); this host decodes the message, keeps the slots and batches the
 * replies: every outcome of one turn of the event loop goes back in a single message.
 */
export class ActorHost {
  readonly #app: AppRegistration
  readonly #hostname: string
  readonly #post: Post
  readonly #startedAt: Float64Array
  /** The heartbeat cell the main thread reads (see BEAT_MS): epoch ms while tasks run, 0 once none has for a tick. */
  readonly #beat: Float64Array
  /** Each slot's claim, shared with the main thread (see Claim). */
  readonly #claims: Int32Array
  /** Where the thread writes the slot it started last: the main thread names the task that holds it. */
  readonly #lastStarted: Int32Array
  /** Tasks started and not settled. */
  #running = 0
  #beating: ReturnType<typeof setInterval> | undefined
  readonly #actors = new Map<string, RunnableTask>()
  readonly #resultCodec: Codec
  readonly #outcomes: OutcomeBatchWriter
  readonly #port: RunPort<RunEntry>
  #flushQueued = false

  readonly #reportHeap: boolean

  constructor(app: AppRegistration, hostname: string, shared: SharedSlots, post: Post, reportHeap = false) {
    this.#reportHeap = reportHeap
    this.#beat = shared.beat
    this.#claims = shared.claims
    this.#lastStarted = shared.lastStarted
    this.#app = app
    this.#hostname = hostname
    this.#startedAt = shared.startedAt
    this.#post = post
    this.#resultCodec = codecByName(app.conf.resultSerializer)
    this.#outcomes = new OutcomeBatchWriter(this.#resultCodec.contentType)
    const codec = this.#resultCodec
    this.#port = {
      clock: systemClock,
      settle: (entry, outcome) => this.#queue(toOutcome(entry.slot, outcome)),
      accept: (entry, value, request) => {
        // Set only when nothing stores the value and nothing after the task takes it (see TaskSupervisor's #run).
        if (entry.ignoreResult || value === undefined) return undefined
        const hasMap = assertSerializable(value, `result of ${request.task}`)
        const bytes = codec.encode(value)
        // What encodes may still not decode (msgpack writes a Map with object keys that it then
        // refuses to read): stored as SUCCESS, every get() would throw. Only a Map can do that, so
        // only a result holding one is decoded again; the hot path pays nothing for the rest.
        if (hasMap) readBack(codec, bytes, `result of ${request.task}`)
        return bytes
      },
      update: (entry, state, meta, request) => {
        const update: ThreadToMain = { type: 'update', slot: entry.slot, state }
        if (meta !== undefined) {
          const bytes = codec.encode(meta)
          if (typeof meta === 'object' && meta !== null) readBack(codec, bytes, `updateState meta of ${request.task}`)
          update.meta = ownBytes(bytes)
          update.contentType = codec.contentType
        }
        this.#post(update)
      },
      // Lines go to the node's logger, on the main thread: the CLI's -l, --log-format and
      // --logfile (or the app's own logger there) hold for them as for the node's own lines.
      logger: nodeLogger(this.#post),
      logFields: activeTraceFields,
      handlerFailed: (request, error) => this.#post({ type: 'log', level: 'error', message: `handler of ${request.task}[${request.id}] failed`, fields: { error: error instanceof Error ? error : String(error) } }),
    }
  }

  handle(message: MainToThread): void {
    readRunBatch(message, (entry) => this.#start(entry))
  }

  #actor(name: string): RunnableTask {
    const actor = this.#actors.get(name)
    if (actor) return actor
    const definition = this.#app.tasks.get(name)
    if (!definition) throw new NotRegistered(`task ${name} is not registered in worker thread (its module was not imported: check the app's include list)`)
    // Kept only once built: a class whose constructor throws is tried again on the next call.
    const built = runnableTask(definition, resolveTaskOptions(name, definition.options, this.#app.conf))
    this.#actors.set(name, built)
    return built
  }

  #start(entry: RunEntry): void {
    const { slot } = entry
    if (Atomics.compareExchange(this.#claims, slot, Claim.sent, Claim.started) !== Claim.sent) {
      // Taken back while a task held this thread: it runs on another. The slot is free again.
      Atomics.store(this.#claims, slot, Claim.idle)
      return
    }
    const now = Date.now()
    this.#startedAt[slot] = now
    this.#lastStarted[0] = slot
    this.#beat[0] = now
    this.#running++
    this.#beating ??= setInterval(this.#tick, BEAT_MS)
    // Posted before the task runs: a synchronous task may hold the thread for a long time.
    if (entry.reportStart) this.#post({ type: 'started', slots: [slot] })
    let actor: RunnableTask
    let request: TaskRequest
    let args: unknown[]
    let kwargs: Record<string, unknown> | null
    const began = performance.now()
    try {
      const { headers, body } = decodeMessage(entry.frame)
      actor = this.#actor(headers.task)
      const decoded = codecFor(headers.contentType).decode(body)
      validateBody(decoded)
      ;[args, kwargs] = decoded as TaskBody
      request = toRequest(headers, entry, this.#hostname, args, kwargs ?? {})
    } catch (error) {
      // No task to run: nothing for its handlers to see.
      return this.#queue({ slot, kind: OutcomeKind.Failure, error: toWireError(error), runtimeMs: performance.now() - began })
    }
    if (entry.trace === undefined) runTask(this.#port, actor, request, entry, args, kwargs, entry.softTimeLimitMs)
    else runInTrace(entry.trace, () => runTask(this.#port, actor, request, entry, args, kwargs, entry.softTimeLimitMs))
  }

  /** Beats while tasks run; stops at the first tick that finds none (a thread sent one task after another keeps one timer). */
  #tick = (): void => {
    if (this.#running > 0) {
      this.#beat[0] = Date.now()
      return
    }
    clearInterval(this.#beating)
    this.#beating = undefined
    this.#beat[0] = 0
  }

  #queue(outcome: Outcome): void {
    this.#startedAt[outcome.slot] = 0
    this.#running--
    this.#outcomes.add(outcome)
    if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(this.#flush)
    }
  }

  #flush = (): void => {
    this.#flushQueued = false
    // Read only when asked for: it costs about 9 us a batch, as much as running a no-op task.
    const batch = this.#outcomes.take(this.#reportHeap ? getHeapStatistics().used_heap_size : 0)
    this.#post(batch, [batch.table, batch.runtimes, batch.bytes])
  }
}

/** The runner's outcome in the batch's form. */
function toOutcome(slot: number, outcome: RunOutcome): Outcome {
  const ended = outcomeOf(slot, outcome)
  if (outcome.children !== undefined) ended.children = outcome.children
  return ended
}

function outcomeOf(slot: number, outcome: RunOutcome): Outcome {
  const { runtimeMs } = outcome
  switch (outcome.kind) {
    case 'success': {
      const done: Outcome = { slot, kind: OutcomeKind.Success, runtimeMs }
      if (outcome.result !== undefined) done.result = outcome.result as Uint8Array
      return done
    }
    case 'retry': {
      const retry: Outcome = { slot, kind: OutcomeKind.Retry, delayMs: outcome.delayMs, runtimeMs }
      if (outcome.exc !== undefined) retry.error = toWireError(outcome.exc)
      return retry
    }
    case 'reject':
      return { slot, kind: OutcomeKind.Reject, requeue: outcome.requeue, error: toWireError(new TaskRejectedError(outcome.reason)), runtimeMs }
    case 'ignore':
      return { slot, kind: OutcomeKind.Ignore, runtimeMs }
    case 'failure':
      return { slot, kind: OutcomeKind.Failure, error: toWireError(outcome.error), runtimeMs }
  }
}

function toRequest(headers: TaskHeaders, entry: RunEntry, hostname: string, args: unknown[], kwargs: Record<string, unknown>): TaskRequest {
  const request: TaskRequest = {
    id: headers.id,
    task: headers.task,
    args,
    kwargs,
    retries: headers.retries,
    hostname,
    rootId: headers.rootId,
    deliveryInfo: { exchange: entry.exchange, routingKey: entry.routingKey, queue: entry.queue, priority: entry.priority, redelivered: entry.redelivered },
    headers: headers.headers ?? {},
    isEager: false,
  }
  if (headers.parentId !== undefined) request.parentId = headers.parentId
  if (headers.groupId !== undefined) request.groupId = headers.groupId
  if (headers.eta !== undefined) request.eta = new Date(headers.eta)
  if (headers.expires !== undefined) request.expires = new Date(headers.expires)
  return request
}

/** Throws a SerializationError unless `bytes` decode: a result nobody could read is a failure. */
function readBack(codec: Codec, bytes: Uint8Array, what: string): void {
  try {
    codec.decode(bytes)
  } catch (error) {
    throw new SerializationError(`${what} cannot be read back once encoded (${(error as Error).message}): return plain data (a Map needs string or number keys)`, { cause: error })
  }
}

/** A logger whose lines the main thread writes (see ThreadPool's 'log' message). */
function nodeLogger(post: Post): Logger {
  const write = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
    try {
      post({ type: 'log', level, message, ...(fields ? { fields } : {}) })
    } catch {
      // A field the structured clone cannot carry (a function, a socket): sent as its JSON.
      post({ type: 'log', level, message, fields: JSON.parse(JSON.stringify(fields, (_, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message}` : v)) ?? '{}') as Record<string, unknown> })
    }
  }
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
}
