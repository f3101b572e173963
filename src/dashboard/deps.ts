/**
 * What the dashboard needs from its app: the port the composition root fills
 * (`dashboardDeps` in app/app.ts), so the dashboard never sees the App.
 * @module
 */
import type { EventStream } from '../events/event-stream.js'
import type { Control } from '../client/control.js'
import type { Transport } from '../transport/transport.js'
import type { ResultBackend } from '../result/backend.js'
import type { CallOptions } from '../canvas/call-options.js'
import type { ConfigValues } from '../config/defaults.js'
import type { Logger } from '../util/logger.js'
import type { Clock } from '../util/clock.js'
import type { NatsConnection } from '@nats-io/transport-node'

/** The dashboard's port to the app. */
export interface DashboardDeps {
  /** The app's name (beat keeps its state under it). */
  appName: string
  /** Subscribes to the cluster's events. */
  events(pattern: string): EventStream
  control: Control
  transport(): Promise<Transport>
  backend(): Promise<ResultBackend>
  /** The broker's NATS connection (only called on NATS). */
  nats(): Promise<NatsConnection>
  /** Sends a task by name; resolves to its id. */
  sendTask(name: string, args: readonly unknown[], options: CallOptions): Promise<string>
  conf(): Readonly<ConfigValues>
  /** Task names registered in this app. */
  taskNames(): string[]
  /**
   * Imports the modules of the app's `include` list, whose tasks {@link taskNames} lists once
   * they are: a dashboard process, unlike a worker, has not imported them.
   */
  loadTasks(): Promise<void>
  clock: Clock
  logger: Logger
}
