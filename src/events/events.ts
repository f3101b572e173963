/**
 * Task and worker events, with Celery's fields in camelCase, tagged by `type`.
 * @module
 */

interface EventBase {
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
