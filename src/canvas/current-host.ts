/**
 * The app that signatures made without one are sent with (Celery's `current_app`): the most
 * recently created app sets itself here.
 * @module
 */
import type { CanvasHost } from './host.js'

// Kept on globalThis: a thread may load celeriac twice (from src and from a package), and a
// signature made by one copy must still find the app made by the other.
const CURRENT = Symbol.for('celeriac.currentApp')
type Globals = Record<symbol, unknown>

/** Makes `host` the one that signatures made by name (`signature('tasks.add')`) are sent with. */
export function setCurrentCanvasHost(host: CanvasHost): void {
  ;(globalThis as Globals)[CURRENT] = host
}

/** The current host, for signatures made without an app. */
export function currentCanvasHost(): CanvasHost | undefined {
  return (globalThis as Globals)[CURRENT] as CanvasHost | undefined
}
