import type { ConfigValues } from '../config/defaults.js'
import type { TaskDefinition } from '../task/definition.js'
import type { CanvasHost } from '../canvas/signature.js'

/** What a worker thread needs of an app: its tasks and its configuration. */
export interface AppRegistration {
  readonly name: string
  readonly tasks: ReadonlyMap<string, TaskDefinition>
  readonly conf: Readonly<ConfigValues>
}

// Kept on globalThis: a thread may load celeriac twice (from src and from a package) and
// must still find the app its task modules created.
const KEY = Symbol.for('celeriac.apps')
const apps: Map<string, AppRegistration> = ((globalThis as Record<symbol, unknown>)[KEY] ??= new Map()) as Map<string, AppRegistration>

/** Records an app under its name, so that a worker thread importing its module finds it. */
export function registerApp(app: AppRegistration): void {
  apps.set(app.name, app)
}

/** The app created with this name in this thread, if any. */
export function findApp(name: string): AppRegistration | undefined {
  return apps.get(name)
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
