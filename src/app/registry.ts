import type { ConfigValues } from '../config/defaults.js'
import type { TaskDefinition } from '../task/definition.js'
import type { CanvasHost } from '../canvas/signature.js'

/** What a worker thread needs of an app: its tasks and its configuration. */
export interface AppRegistration {
  readonly name: string
  readonly tasks: ReadonlyMap<string, TaskDefinition>
  readonly conf: Readonly<ConfigValues>
}

const CURRENT = Symbol.for('celeriac.currentApp')
type Globals = Record<symbol, unknown>

/**
 * Makes `host` the app that signatures made by name (`signature('tasks.add')`) are sent with,
 * as Celery's `current_app`: the most recently created app.
 */
export function setCurrentCanvasHost(host: CanvasHost): void {
  ;(globalThis as Globals)[CURRENT] = host
}

/** The current app, for signatures made without one. */
export function currentCanvasHost(): CanvasHost | undefined {
  return (globalThis as Globals)[CURRENT] as CanvasHost | undefined
}
