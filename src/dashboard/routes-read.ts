/**
 * The read side of the HTTP API (Flower's shape where it fits): workers, tasks, results,
 * queues, dead letters, beat, overview series.
 * @module
 */
import { decodeHeaders } from '../protocol/envelope.js'
import { BadRequest, parseTaskQuery, queryTasks } from './query.js'
import { name, params, flag, resultValue } from './context.js'
import { readBeat } from './beat-info.js'
import { queueDepth } from './queue-stats.js'
import { canvasGraph } from './canvas-graph.js'
import type { Hono } from 'hono'
import type { DashboardContext } from './context.js'
import type { ThroughputSeries } from './series.js'
import type { BeatStore } from '../beat/store.js'

/** Adds the read routes to `api`. */
export function readRoutes(api: Hono, ctx: DashboardContext, series: ThroughputSeries): void {
  const { deps, state } = ctx

  api.get('/api/workers', async (c) => {
    const p = await params(c)
    const only = p.workername === undefined ? undefined : name(p.workername, 'workername')
    if (flag(p.refresh, 'refresh')) await ctx.refreshWorkers(only)
    const workers = state.workerList().filter((w) => only === undefined || w.hostname === only)
    return c.json(Object.fromEntries(workers.map((w) => [w.hostname, w])))
  })

  api.get('/api/worker/:name', async (c) => {
    const hostname = name(c.req.param('name'), 'worker name')
    const row = state.workers.get(hostname)
    if (!row) return c.json({ error: `no worker named ${hostname} was heard from` }, 404)
    const [{ stats, active, reserved }, registered] = await Promise.all([ctx.refreshWorkers(hostname), deps.control.inspect({ destination: hostname, timeout: 1 }).registered()])
    return c.json({ ...state.workers.get(hostname), stats: stats[hostname]?.ok ?? null, activeTasks: active[hostname]?.ok ?? null, registered: registered[hostname]?.ok ?? null, reservedTasks: reserved[hostname]?.ok ?? null })
  })

  api.get('/api/tasks', (c) => {
    const query = parseTaskQuery(new URL(c.req.url).searchParams)
    const { total, tasks } = queryTasks(state.tasks, query)
    return c.json({ total, offset: query.offset, limit: query.limit, tasks: tasks.map(({ timeline: _timeline, ...row }) => row) })
  })

  api.get('/api/task/types', (c) => {
    const names = new Set(deps.taskNames().filter((n) => !n.startsWith('celeriac.')))
    for (const row of state.tasks.values()) if (row.name) names.add(row.name)
    return c.json({ 'task-types': [...names].sort() })
  })

  api.get('/api/task/info/:id', async (c) => {
    const id = name(c.req.param('id'), 'task id')
    const task = await ctx.task(id)
    if (!task) return c.json({ error: `unknown task ${id}: not in the dashboard's memory nor in the result backend` }, 404)
    const children = task.children.map((child) => {
      const row = state.tasks.get(child)
      return { id: child, name: row?.name ?? null, state: row?.state ?? null }
    })
    const parent = task.parentId ? state.tasks.get(task.parentId) : undefined
    return c.json({ ...task, childTasks: children, parent: task.parentId ? { id: task.parentId, name: parent?.name ?? null, state: parent?.state ?? null } : null, graph: canvasGraph(state, task) })
  })

  api.get('/api/task/graph/:id', async (c) => {
    const id = name(c.req.param('id'), 'task id')
    const task = await ctx.task(id)
    if (!task) return c.json({ error: `unknown task ${id}: not in the dashboard's memory nor in the result backend` }, 404)
    return c.json(canvasGraph(state, task))
  })

  api.get('/api/task/result/:id', async (c) => {
    const id = name(c.req.param('id'), 'task id')
    const meta = await (await deps.backend()).get(id)
    if (!meta) return c.json({ 'task-id': id, state: 'PENDING', result: null })
    let result: unknown
    try {
      result = resultValue(meta)
    } catch (error) {
      result = `<undecodable: ${(error as Error).message}>`
    }
    const body: Record<string, unknown> = { 'task-id': id, state: meta.state, result: meta.error ? `${meta.error.type}: ${meta.error.message}` : result }
    if (meta.error?.stack) body.traceback = meta.error.stack
    return c.json(body, 200)
  })

  api.get('/api/queues/length', async (c) => {
    const transport = await deps.transport()
    const names = await ctx.queueNames()
    const lengths = await Promise.all(names.map(async (queue) => ({ name: queue, messages: await queueDepth(transport, queue) })))
    return c.json({ active_queues: lengths })
  })

  api.get('/api/queues', async (c) => c.json({ queues: await ctx.queues() }))

  api.get('/api/queues/:name/dead-letters', async (c) => {
    const queue = name(c.req.param('name'), 'queue name')
    const letters = await (await deps.transport()).deadLetters(queue)
    return c.json({
      queue,
      deadLetters: letters.map((letter) => {
        let task: { id: string; name: string } | null = null
        try {
          const headers = decodeHeaders(letter.body)
          task = { id: headers.id, name: headers.task }
        } catch {
          // undecodable: its reason says so
        }
        return { reason: letter.reason, deliveryCount: letter.deliveryCount, at: letter.at, bytes: letter.body.byteLength, task }
      }),
    })
  })

  api.get('/api/beat', async (c) => {
    const conf = deps.conf()
    let store: BeatStore | undefined
    if ((await deps.transport()).kind === 'nats') {
      const { NatsBeatStore } = await import('../beat/nats-store.js')
      // Read-only: the dashboard may run as a `monitor`, which cannot make the bucket a beat has not made yet.
      store = new NatsBeatStore(await deps.nats(), deps.appName, { namespace: conf.namespace, readOnly: true })
    }
    return c.json(await readBeat(conf.beatSchedule, conf.timezone, deps.clock.now(), store))
  })

  api.get('/api/overview', (c) => {
    const spanText = c.req.query('span') ?? '120'
    const span = Number(spanText)
    if (!Number.isInteger(span) || span < 10 || span > series.seconds) throw new BadRequest(`span must be an integer from 10 to ${series.seconds} seconds, got ${JSON.stringify(spanText)}`)
    const workers = state.workerList()
    const states: Record<string, number> = {}
    for (const row of state.tasks.values()) states[row.state] = (states[row.state] ?? 0) + 1
    return c.json({
      series: series.points(deps.clock.now(), span),
      tasks: state.tasks.size,
      states,
      events: state.eventsSeen,
      dropped: state.dropped,
      workers: { online: workers.filter((w) => w.status === 'online').length, offline: workers.filter((w) => w.status === 'offline').length },
    })
  })
}
