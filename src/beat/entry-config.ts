/**
 * The type of one `beatSchedule` entry, apart from the code that compiles it: the
 * configuration's types refer to it, and must not depend on the scheduler.
 * @module
 */
import type { Duration } from '../util/duration.js'
import type { ScheduleSpec } from './schedules.js'
import type { CallOptions } from '../canvas/call-options.js'

/** One entry of `beatSchedule` (Celery's `beat_schedule`), keyed by its name. */
export interface BeatEntryConfig {
  /** Name of the task to send. */
  task: string
  /** Seconds or a duration string (`'30s'`), a cron string (`'*\/5 * * * *'`, 6 fields = seconds first), or `crontab({...})`. */
  schedule: ScheduleSpec
  /** Positional arguments of every call. @default [] */
  args?: readonly unknown[]
  /** Keyword arguments of every call. */
  kwargs?: Record<string, unknown>
  /** Call options (`queue`, `priority`...). `expires` is in seconds from each fire time. */
  options?: Omit<CallOptions, 'kwargs' | 'taskId' | 'eta' | 'countdown' | 'expires'> & { expires?: Duration }
  /** Intervals only: fire on whole multiples of the interval since the epoch, not from the last run. @default false */
  relative?: boolean
}
