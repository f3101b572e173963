/**
 * Task and worker events, with Celery's fields in camelCase, tagged by `type`.
 * @module
 */
import { InvalidArgumentError } from '../errors.js'
import { closestKey } from '../util/closest.js'

/** What every event carries. */
export interface EventBase {
  /** Epoch ms. */
  timestamp: number
  /** The node that sent it (the sender's origin for task-sent). */
  hostname: string
}

export interface TaskSentEvent extends EventBase {
  type: 'task-sent'
  uuid: string
  name: string
  retries: number
  eta?: number
  expires?: number
  queue?: string
  exchange: string
  routingKey: string
  rootId: string
  parentId?: string
}
export interface TaskReceivedEvent extends EventBase {
  type: 'task-received'
  uuid: string
  name: string
  retries: number
  eta?: number
  expires?: number
  rootId: string
  parentId?: string
  /** The queue it came from. */
  queue?: string
  /** The positional arguments as JSON text, cut at 1,024 characters (Celery's `argsrepr`). */
  args?: string
  /** The keyword arguments as JSON text, cut at 1,024 characters (Celery's `kwargsrepr`). */
  kwargs?: string
}
export interface TaskStartedEvent extends EventBase { type: 'task-started'; uuid: string; pid: number }
export interface TaskSucceededEvent extends EventBase {
  type: 'task-succeeded'
  uuid: string
  runtime: number
  /** The return value as JSON text, cut at 1,024 characters (Celery's `result` repr). */
  result?: string
}
export interface TaskFailedEvent extends EventBase { type: 'task-failed'; uuid: string; exception: string; traceback?: string }
export interface TaskRetriedEvent extends EventBase { type: 'task-retried'; uuid: string; exception?: string; traceback?: string }
export interface TaskRevokedEvent extends EventBase { type: 'task-revoked'; uuid: string; terminated: boolean; expired: boolean }
export interface TaskRejectedEvent extends EventBase { type: 'task-rejected'; uuid: string; requeue: boolean }
export interface WorkerEvent extends EventBase {
  type: 'worker-online' | 'worker-heartbeat' | 'worker-offline'
  /** Heartbeat interval, seconds. */
  freq: number
  swIdent: string
  swVer: string
  swSys: string
  /** Tasks the node's threads are running (Celery's `active`). */
  active: number
  /** Tasks the node holds that no thread runs yet (lookahead, a rate limit); absent from nodes before 2026-12-07. */
  reserved?: number
  processed: number
}

export type TaskEvent =
  | TaskSentEvent | TaskReceivedEvent | TaskStartedEvent | TaskSucceededEvent | TaskFailedEvent
  | TaskRetriedEvent | TaskRevokedEvent | TaskRejectedEvent
/** Every event on the cluster's event stream. */
export type CeleriacEvent = TaskEvent | WorkerEvent
export type EventType = CeleriacEvent['type']

const PREFIX = 'celeriac.events.'

/** The pub/sub subject of an event type: `task-succeeded` -> `celeriac.events.task.succeeded`. */
export function eventSubject(type: EventType): string {
  return PREFIX + type.replace('-', '.')
}

/** The subject pattern of an event pattern: `task-*`, `*`, `worker-online`. */
export function eventPattern(pattern: string): string {
  if (pattern === '*' || pattern === '#') return PREFIX + '>'
  return PREFIX + pattern.replace('-', '.')
}

/** Every event type (a key per member of the union, so a new type cannot be left out). */
export const EVENT_TYPES = Object.keys({
  'task-sent': 0, 'task-received': 0, 'task-started': 0, 'task-succeeded': 0, 'task-failed': 0, 'task-retried': 0,
  'task-revoked': 0, 'task-rejected': 0, 'worker-online': 0, 'worker-heartbeat': 0, 'worker-offline': 0,
} satisfies Record<EventType, 0>) as EventType[]

// The events of `E` whose type can be `P` (a worker event's type is one of three).
export type Typed<E, P> = E extends { type: infer T } ? (P extends T ? E : never) : never
/** The events a pattern yields: one type's, a family's (`task-*`, `worker-*`), else any. */
export type EventOf<P extends string> = P extends EventType ? Typed<CeleriacEvent, P> : P extends 'task-*' ? TaskEvent : P extends 'worker-*' ? WorkerEvent : CeleriacEvent

/** Whether subject `pattern` (`*` one token, `>` the rest) matches `subject`, as the broker matches them. */
function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split('.')
  const got = subject.split('.')
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '>') return got.length > i
    if (i >= got.length || (want[i] !== '*' && want[i] !== got[i])) return false
  }
  return want.length === got.length
}

/**
 * Refuses an event pattern no event can match (`task-faild`), which would yield nothing for
 * ever, naming the type it was probably meant to be. `shown` is how the message names it.
 */
export function checkEventPattern(pattern: string, shown = String(pattern)): void {
  if (typeof pattern === 'string' && EVENT_TYPES.some((type) => subjectMatches(eventPattern(pattern), eventSubject(type)))) return
  const near = typeof pattern === 'string' ? closestKey(pattern, [...EVENT_TYPES, 'task-*', 'worker-*']) : undefined
  throw new InvalidArgumentError(`no event matches ${shown}${near ? ` (did you mean ${near}?)` : ''}; the events are ${EVENT_TYPES.join(', ')}; a * stands for either part (task-*, *-failed) or for all (*)`)
}
