/**
 * celeriac: Celery for TypeScript. Create an app, register tasks, start worker nodes, send
 * tasks and follow their state changes.
 * @module
 */
export { createApp, App } from './app/app.js'
export { TaskHandle } from './client/task-handle.js'
export { Task } from './task/task.js'
export { Canvas, Signature, Chain, Group, Chord, signature, chain, group, chord } from './canvas/signature.js'
export { AsyncResult } from './result/async-result.js'
export { GroupResult } from './result/group-result.js'
export { WorkerNode } from './worker/worker-node.js'
export { Control, Inspect } from './client/control.js'
export { Conf, censorUrl } from './config/conf.js'
export { DEFAULTS } from './config/defaults.js'
export { TaskState, READY_STATES, EXCEPTION_STATES } from './lifecycle/states.js'
export { taskMachine, lifecycle, TaskEventType } from './lifecycle/task-machine.js'
export { WorkerState } from './lifecycle/worker-machine.js'
export { consoleLogger } from './util/logger.js'
export { Beat } from './beat/beat.js'
export { crontab, Crontab } from './beat/crontab.js'
export {
  CeleriacError, ErrorCode, ConfigError, InvalidArgumentError, NotRegistered, SerializationError, TransportError,
  BackendError, TimeoutError, TimeLimitExceeded, SoftTimeLimitExceeded, WorkerLostError, MaxRetriesExceeded,
  TaskRevokedError, TaskRejectedError, TaskIgnoredError, ChordError, RemoteError, Retry, Reject, Ignore,
  PermissionError,
} from './errors.js'

export type { AppOptions } from './app/app.js'
export type { CallOptions } from './canvas/call-options.js'
export type { Prefix, Suffix, Missing } from './client/task-handle.js'
export type { AnyCanvas, ResultHandle, ResultOf, InputOf, CallArgsOf, HandleOf, CommonInput, ResultsOf, CannotAccept, SignatureParts } from './canvas/signature.js'
export type { SignatureData, TaskSignatureData, ChainData, GroupData, ChordData } from './canvas/data.js'
export type { MemberResult } from './result/group-result.js'
export type { TaskOptions, ErrorMatcher } from './task/options.js'
export type { TaskContext, TaskRequest, DeliveryInfo, StateUpdate } from './task/context.js'
export type { GetOptions, StateChange, ResultGraph } from './result/async-result.js'
export type { ConfigValues, RouteTarget, TaskRoutes, QueueConfig } from './config/defaults.js'
export type { WorkerOptions } from './worker/worker-options.js'

export type { ControlOptions, ControlReply, ControlReplies, ControlCommandName, TaskInfo, ScheduledTaskInfo, WorkerStats } from './client/control.js'
export type { EventStream } from './events/event-stream.js'
export type { CeleriacEvent, TaskEvent, WorkerEvent, EventType, EventOf } from './events/events.js'
export type { StateName } from './lifecycle/states.js'
export type { Logger, LogLevel } from './util/logger.js'
export type { Duration } from './util/duration.js'
export type { RetryOptions, CeleriacErrorOptions } from './errors.js'
export type { Serializable, SerializableValue, SerializableCall, NotSerializable } from './serialization/serializable.js'
export type { Transport, Delivery, Consumer, OutgoingMessage, PublishAck, DeadLetter } from './transport/transport.js'
export type { ResultBackend, TaskMeta, MetaListener, BackendCapabilities, BackendFacets, ChordStore, Announcer, ReplyPush } from './result/backend.js'
export type { ResultLike } from './result/result-like.js'
export type { BeatOptions } from './beat/beat.js'
export type { BeatEntry, BeatEntryConfig, PeriodicTaskOptions } from './beat/entry.js'
export type { CrontabFields, CrontabValue } from './beat/crontab.js'
export type { Schedule, ScheduleSpec } from './beat/schedules.js'
export type { BeatStore, Stored } from './beat/store.js'
export type { DashboardHandler } from './dashboard/handler.js'
export type { DashboardOptions } from './dashboard/options.js'
export type { Dashboard } from './dashboard/dashboard.js'
export type { TaskRow, WorkerRow, TimelineEntry, DashboardState } from './dashboard/state.js'
export type { QueueRow } from './dashboard/queue-stats.js'
export type { LiveBatch } from './dashboard/live.js'
