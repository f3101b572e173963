/**
 * What `app.dashboard()` returns: a request handler for node:http and Express that is also a
 * Fetch API handler, loading the dashboard's code (Hono, prom-client) on first use so that
 * apps that never open it do not pay for it.
 * @module
 */
import { checkOptions, type DashboardOptions } from './options.js'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { DashboardDeps } from './deps.js'
import type { Dashboard } from './dashboard.js'

/**
 * A dashboard as a request handler: call it with node:http's `(req, res)` (Express:
 * `server.use('/flower', handler)`), or give `handler.fetch` to a Fetch API framework (Hono:
 * `hono.mount('/flower', handler.fetch)`).
 */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse): void
  /** The Fetch API handler. */
  fetch(request: Request): Promise<Response>
  /** The running dashboard (its state and metrics), once its code is loaded and its event subscription is in place. */
  readonly dashboard: Promise<Dashboard>
  /** Stops listening to events and ends the live streams. */
  close(): Promise<void>
}

/** Starts a dashboard on `deps` now (it listens to events from the start) and returns its handler. */
export function dashboardHandler(deps: DashboardDeps, options: DashboardOptions = {}): DashboardHandler {
  checkOptions(options)
  const loaded = import('./dashboard.js').then((m) => m.createDashboard(deps, options))
  const ready = loaded.then(async (dashboard) => {
    await dashboard.ready
    return dashboard
  })
  // Awaiting `handler.dashboard` is optional: its failure is logged by the dashboard, not left unhandled.
  ready.catch(() => undefined)
  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    loaded.then((dashboard) => dashboard.listener(req, res), (error: unknown) => {
      res.statusCode = 500
      res.setHeader('Content-Type', 'application/json')
      res.end(JSON.stringify({ error: `the dashboard could not start: ${(error as Error).message}` }))
    })
  }) as DashboardHandler
  return Object.assign(handler, {
    fetch: (request: Request) => loaded.then((dashboard) => dashboard.fetch(request)),
    dashboard: ready,
    close: () => loaded.then((dashboard) => dashboard.close(), () => undefined),
  })
}
