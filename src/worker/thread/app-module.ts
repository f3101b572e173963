import type { ConfigValues } from '../../config/defaults.js'
import type { TaskDefinition } from '../../task/definition.js'

/**
 * How a worker thread finds the app it serves: it imports the app's module and takes the app
 * of that name from its exports. Nothing is registered in a process-global table.
 * @module
 */

/** What a worker thread needs of an app: its tasks and its configuration (its tasks' log lines go to the node). */
export interface AppRegistration {
  readonly name: string
  readonly tasks: ReadonlyMap<string, TaskDefinition>
  readonly conf: Readonly<ConfigValues>
}

/**
 * The mark every App carries, from any copy of celeriac (a CLI from dist/ loading an app built
 * on src/, a worker thread importing the app's module): found by `Symbol.for`, not `instanceof`.
 */
export const APP_BRAND = Symbol.for('celeriac.app')

/** True for an App from any copy of celeriac. */
export function isAppLike(value: unknown): value is { readonly name: string } {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[APP_BRAND] === true
}

/**
 * The app named `name` among a module's exports, found as Celery's `--app` finds one: the
 * export named `app`, then `celery`, then any other. What a worker thread needs travels
 * explicitly (the app's module and name), so two apps of the same name in one process never
 * shadow each other.
 */
export function exportedApp<A extends { readonly name: string }>(module: Record<string, unknown>, name: string): A | undefined {
  const candidates = [module.app, module.celery, ...Object.values(module)]
  return candidates.find((value) => isAppLike(value) && value.name === name) as A | undefined
}
