import { lifecycle, TaskEventType } from '../lifecycle/task-machine.js'
import { isReady, TaskState, type StateName } from '../lifecycle/states.js'
import { sendEvent } from '../events/event-stream.js'
import { msgpackCodec, type ContentType } from '../serialization/codec.js'
import { decodeForRepr, repr } from '../events/repr.js'
import { decodeMessage } from '../protocol/envelope.js'
import type { WireError } from '../serialization/failure.js'
import type { ResultBackend, TaskMeta } from '../result/backend.js'
import type { Transport } from '../transport/transport.js'
import type { TaskHeaders } from '../protocol/envelope.js'
import type { CeleriacEvent } from '../events/events.js'
import type { Clock } from '../util/clock.js'
import type { Logger } from '../util/logger.js'

/** The part of a task the recorder reads and updates. */
export interface Recordable {
  headers: TaskHeaders
  state: TaskState
  customState?: string
  /** Do not store (the task's `ignoreResult`); transitions are still checked and published as events. */
  ignoreResult?: boolean
  /** The message, when there is one: its queue and its arguments show in task-received events. */
  readonly delivery?: { readonly body: Uint8Array; readonly queue: string }
}

/** Called after a task reached a ready state and its record is stored; the ack waits for it. */
export type OnReady = (task: Recordable, state: StateName, data: TransitionData) => Promise<void>

/** What a transition carries besides the event. */
export interface TransitionData {
  result?: Uint8Array
  contentType?: ContentType
  error?: WireError
  /** Name of a custom state, for PROGRESS. */
  customState?: string
  children?: readonly string[]
  runtimeMs?: number
  expired?: boolean
  terminated?: boolean
  requeue?: boolean
}

/** A transition that carries nothing but its event (RECEIVED, most of them). */
const NO_DATA: TransitionData = Object.freeze({})

/**
 * Applies lifecycle events to tasks: the machine (through its derived table) decides; an
 * accepted transition is stored in the result backend, which is what state-change streams
 * watch, and published as a task event when events are on. A refused one changes nothing.
 */
export class StateRecorder {
  readonly #backend: ResultBackend
  readonly #transport: Transport
  readonly #hostname: string
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #onReady: OnReady | undefined
  /** Records of ready states (and what follows them) still being stored: a stop waits for them. */
  readonly #unsettled = new Set<Promise<void>>()
  /** STARTED's meta, `{ hostname, pid }` (Celery's), encoded once: `AsyncResult.info()` reads it. */
  #startedInfo: Uint8Array | undefined
  sendEvents: boolean

  constructor(options: { backend: ResultBackend; transport: Transport; hostname: string; clock: Clock; logger: Logger; sendEvents: boolean; onReady?: OnReady }) {
    this.#backend = options.backend
    this.#transport = options.transport
    this.#hostname = options.hostname
    this.#clock = options.clock
    this.#logger = options.logger
    this.sendEvents = options.sendEvents
    this.#onReady = options.onReady
  }

  /**
   * Applies `event` to `task`. Returns the store's promise, or `undefined` when the machine
   * refused the transition (a late or duplicate report). Never throws: a failure to store, or
   * to send what follows, rejects the promise (and is logged).
   */
  apply(task: Recordable, event: TaskEventType, data: TransitionData = NO_DATA): Promise<void> | undefined {
    const failed = (error: unknown) => this.#logger.error('could not record a task state', { id: task.headers.id, task: task.headers.task, event, error })
    let recorded: Promise<void> | undefined
    try {
      recorded = this.#apply(task, event, data, failed)
    } catch (error) {
      failed(error)
      recorded = Promise.reject(error)
    }
    // Many callers only start a record and go on (the ack waits on it where it matters): a
    // failure is logged once, where it happened (the store, or onReady for what follows), and
    // is never an unhandled rejection. Whoever holds the promise still sees it reject.
    if (recorded !== undefined && isReady(task.state)) {
      const tracked = recorded
      this.#unsettled.add(tracked)
      const done = () => void this.#unsettled.delete(tracked)
      tracked.then(done, done)
    } else recorded?.catch(() => {})
    return recorded
  }

  /** Ready records still being stored (a task's outcome, and what follows it in a workflow). */
  get unsettled(): number {
    return this.#unsettled.size
  }

  /** Resolves once every ready record started so far is stored, or has failed to be. */
  settled(): Promise<void> {
    return Promise.allSettled([...this.#unsettled]).then(() => undefined)
  }

  #apply(task: Recordable, event: TaskEventType, data: TransitionData, failed: (error: unknown) => void): Promise<void> | undefined {
    const next = lifecycle.next(task.state, event)
    if (next === undefined) {
      this.#logger.debug('refused a transition', { id: task.headers.id, task: task.headers.task, state: task.customState ?? task.state, event })
      return undefined
    }
    task.state = next
    task.customState = event === TaskEventType.PROGRESS ? data.customState : undefined
    if (this.sendEvents) this.#event(task, next, event, data)
    const stored = this.#store(task, next, data).catch((error: unknown) => {
      failed(error)
      throw error
    })
    // What follows a ready task (a chain's next step, a chord's join) waits for its record.
    const { headers } = task
    if (this.#onReady === undefined || !isReady(next) || (headers.chain === undefined && headers.chord === undefined)) return stored
    const onReady = this.#onReady
    const state = task.customState ?? next
    return stored.then(() => onReady(task, state, data))
  }

  #store(task: Recordable, next: TaskState, data: TransitionData): Promise<void> {
    if (task.ignoreResult) return Promise.resolve()
    const { headers } = task
    const meta: TaskMeta = { taskId: headers.id, state: task.customState ?? next, name: headers.task, retries: headers.retries, worker: this.#hostname, rootId: headers.rootId }
    if (headers.parentId !== undefined) meta.parentId = headers.parentId
    if (headers.groupId !== undefined) meta.groupId = headers.groupId
    if (headers.replyTo !== undefined) meta.replyTo = headers.replyTo
    if (data.result !== undefined) {
      meta.result = data.result
      meta.contentType = data.contentType
    }
    if (data.error !== undefined) meta.error = data.error
    if (next === TaskState.STARTED && data.result === undefined) {
      meta.result = this.#startedInfo ??= msgpackCodec.encode({ hostname: this.#hostname, pid: process.pid }).slice()
      meta.contentType = msgpackCodec.contentType
    }
    if (data.children !== undefined) meta.children = [...data.children]
    if (isReady(next)) meta.dateDone = this.#clock.now()
    if (next === TaskState.RECEIVED && this.#backend.announce) return this.#backend.announce.send(meta)
    return this.#backend.store(meta)
  }

  #event(task: Recordable, state: TaskState, event: TaskEventType, data: TransitionData): void {
    const { headers } = task
    const base = { uuid: headers.id, hostname: this.#hostname, timestamp: this.#clock.now() }
    let ev: CeleriacEvent | undefined
    switch (event === TaskEventType.REQUEUE ? 'REQUEUE' : state) {
      case TaskState.RECEIVED:
        ev = { ...base, type: 'task-received', name: headers.task, retries: headers.retries, rootId: headers.rootId, ...(headers.eta ? { eta: headers.eta } : {}), ...(headers.expires ? { expires: headers.expires } : {}), ...(headers.parentId ? { parentId: headers.parentId } : {}), ...argsRepr(task) }
        break
      case TaskState.STARTED:
        if (event === TaskEventType.START) ev = { ...base, type: 'task-started', pid: process.pid }
        break
      case TaskState.SUCCESS:
        ev = { ...base, type: 'task-succeeded', runtime: (data.runtimeMs ?? 0) / 1000, ...(data.result ? { result: repr(decodeForRepr(data.result, data.contentType)) } : {}) }
        break
      case TaskState.FAILURE:
        ev = { ...base, type: 'task-failed', exception: describe(data.error), ...(data.error?.stack ? { traceback: data.error.stack } : {}) }
        break
      case TaskState.RETRY:
        ev = { ...base, type: 'task-retried', ...(data.error ? { exception: describe(data.error) } : {}), ...(data.error?.stack ? { traceback: data.error.stack } : {}) }
        break
      case TaskState.REVOKED:
        ev = { ...base, type: 'task-revoked', terminated: data.terminated ?? false, expired: data.expired ?? false }
        break
      case TaskState.REJECTED:
        ev = { ...base, type: 'task-rejected', requeue: false }
        break
      case 'REQUEUE':
        ev = { ...base, type: 'task-rejected', requeue: true }
        break
    }
    if (ev) sendEvent(this.#transport, ev)
  }
}

/**
 * The queue and argument reprs of a task-received event. The body is decoded here only because
 * events are on (monitoring asked for it); the run itself still decodes it once, in its thread.
 */
function argsRepr(task: Recordable): { queue?: string; args?: string; kwargs?: string } {
  if (task.delivery === undefined) return {}
  let body: unknown
  try {
    body = decodeForRepr(decodeMessage(task.delivery.body).body, task.headers.contentType)
  } catch {
    return { queue: task.delivery.queue }
  }
  if (!Array.isArray(body)) return { queue: task.delivery.queue }
  return { queue: task.delivery.queue, args: repr(body[0] ?? []), kwargs: repr(body[1] ?? {}) }
}

function describe(error: WireError | undefined): string {
  return error ? `${error.type}(${JSON.stringify(error.message)})` : ''
}
