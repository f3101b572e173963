import type { ConfigValues } from '../config/defaults.js'
import type { TaskDefinition } from '../task/definition.js'

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
