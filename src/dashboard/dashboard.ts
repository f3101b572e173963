/**
 * The dashboard: a Hono app over the event-fed state, served by node:http through
 * @hono/node-server or mounted in any framework through its `fetch` handler.
 * @module
 */
import { Hono } from 'hono'
import { getRequestListener } from '@hono/node-server'
import { DashboardState } from './state.js'
import { DashboardMetrics } from './metrics.js'
import { DashboardContext } from './context.js'
import { LiveHub } from './live.js'
import { ThroughputSeries } from './series.js'
import { BadRequest } from './query.js'
import { authenticate, hardening, hostCheck } from './security.js'
import { indexHtml, staticAsset, vendorAsset } from './assets.js'
import { readRoutes } from './routes-read.js'
import { actionRoutes } from './routes-act.js'
import { checkOptions, type DashboardOptions } from './options.js'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { DashboardDeps } from './deps.js'
import type { EventStream } from '../events/event-stream.js'
import type { NatsConnection } from '@nats-io/transport-node'

/** nats.js's status events: typed as an AsyncIterable, a QueuedIterator at run time, stopped on close. */
type StatusEvents = ReturnType<NatsConnection['status']> & { stop?: () => void }

/** A running dashboard: its handlers, its state, and how to stop it. */
export interface Dashboard {
  /** The Fetch API handler (Hono's `app.mount`, Bun, Deno, Fastify through a fetch bridge). */
  fetch(request: Request): Promise<Response>
  /** The node:http handler (`http.createServer(listener)`, Express's `app.use('/path', listener)`). */
  listener(req: IncomingMessage, res: ServerResponse): void
  readonly state: DashboardState
  readonly metrics: DashboardMetrics
  /** Resolves once the event subscription is in place: events sent after it are seen. */
  readonly ready: Promise<void>
  /** Stops listening to events and ends the live streams. */
  close(): Promise<void>
}

/** Builds a dashboard on `deps` and starts listening to the cluster's events. */
export function createDashboard(deps: DashboardDeps, given: DashboardOptions = {}): Dashboard {
  const options = checkOptions(given)
  const state = new DashboardState({ maxTasks: options.maxTasks, now: () => deps.clock.now() })
  const ctx = new DashboardContext(deps, state, options)
  const series = new ThroughputSeries()
  const metrics = new DashboardMetrics(state, () => ctx.queues())
  const hub = new LiveHub(options.batchMs, () => state.eventsSeen, () => state.broker)
  state.onEvent((event, row) => {
    metrics.observe(event, row)
    if (row?.queue !== undefined) ctx.seenQueues.add(row.queue)
    if (event.type === 'task-succeeded') series.succeeded(event.timestamp, event.runtime)
    else if (event.type === 'task-failed') series.failed(event.timestamp)
    hub.note(row, row ? undefined : state.workers.get(event.hostname))
  })

  const app = new Hono()
  app.onError((error, c) => {
    if (error instanceof BadRequest) return c.json({ error: error.message }, error.status)
    // With the broker out of reach a request fails for that reason, whatever it says: a 503,
    // which a client or a proxy retries later, not a 500 that reads as a bug here.
    const { connected, since } = state.broker
    deps.logger.error('dashboard request failed', { path: c.req.path, error, ...(connected ? {} : { brokerLostAt: new Date(since).toISOString() }) })
    if (!connected) return c.json({ error: `the broker cannot be reached (since ${new Date(since).toISOString()}): ${(error as Error).message}` }, 503, { 'Retry-After': '5' })
    return c.json({ error: (error as Error).message }, 500)
  })
  app.notFound((c) => c.json({ error: `no such page: ${c.req.method} ${c.req.path}` }, 404))
  app.use('*', hardening)
  app.use('*', hostCheck(options.allowedHosts))
  app.get('/favicon.ico', (c) => c.body(null, 204))
  app.use('*', authenticate(options))
  // Behind the auth like every page: openPaths (--open /healthcheck) serves it to probes without.
  app.get('/healthcheck', (c) => c.text('OK'))
  app.get('/metrics', async (c) => c.text(await metrics.text(), 200, { 'Content-Type': metrics.registry.contentType }))
  app.get('/', (c) => c.html(indexHtml(options)))
  app.get('/static/*', async (c) => {
    const asset = await staticAsset(c.req.path.slice('/static/'.length))
    return asset ? c.body(asset.body as string, 200, { 'Content-Type': asset.type, 'Cache-Control': 'no-cache' }) : c.json({ error: 'no such file' }, 404)
  })
  app.get('/vendor/:file', async (c) => {
    const asset = await vendorAsset(c.req.param('file'))
    return asset ? c.body(asset.body as string, 200, { 'Content-Type': asset.type, 'Cache-Control': 'max-age=3600' }) : c.json({ error: 'no such file' }, 404)
  })
  app.get('/api/config', (c) => c.json({ readOnly: options.readOnly, maxTasks: options.maxTasks, broker: deps.conf().broker.replace(/\/\/[^@/]*@/, '//***@') }))
  app.get('/api/events', (c) => new Response(hub.stream(c.req.raw.signal), { headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' } }))
  readRoutes(app, ctx, series)
  actionRoutes(app, ctx)

  let stream: EventStream | undefined = deps.events('*')
  const pump = (async () => {
    for await (const event of stream!) state.apply(event)
  })().catch((error: unknown) => deps.logger.error('dashboard event stream ended', { error }))
  // A broker that cannot be reached rejects `ready` for whoever awaits it, never as an unhandled rejection.
  stream.ready.catch((error: unknown) => deps.logger.error('dashboard could not subscribe to events', { error }))
  const refreshed = stream.ready.then(() => ctx.refreshWorkers().catch(() => undefined), () => undefined)
  const link = stream.ready.then(() => watchBroker(deps, (connected) => {
    state.brokerLink(connected)
    hub.brokerChanged()
    if (connected) deps.logger.info('dashboard: the broker is back; workers not heard from within two heartbeats will show offline')
    else deps.logger.warn('dashboard: lost the broker; workers keep the status they had until it is back')
  })).catch(() => undefined)
  const fetch = (request: Request) => Promise.resolve(app.fetch(request))
  const listener = getRequestListener(fetch)
  return {
    fetch,
    listener: (req, res) => void listener(req, res),
    state,
    metrics,
    ready: stream.ready,
    async close() {
      stream?.close()
      stream = undefined
      ;(await link)?.stop?.()
      hub.close()
      await pump
      await refreshed
    },
  }
}

/**
 * Follows the broker connection the dashboard's events come through (NATS only: an in-process
 * broker is never lost) and calls `changed` when it goes and when it is back.
 */
async function watchBroker(deps: DashboardDeps, changed: (connected: boolean) => void): Promise<StatusEvents | undefined> {
  if ((await deps.transport()).kind !== 'nats') return undefined
  const status: StatusEvents = (await deps.nats()).status()
  void (async () => {
    for await (const event of status) {
      if (event.type === 'disconnect') changed(false)
      else if (event.type === 'reconnect') changed(true)
    }
  })()
  return status
}
