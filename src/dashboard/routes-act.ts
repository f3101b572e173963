/**
 * The actions of the HTTP API, every one POST only, refused in read-only mode and from other
 * sites (see security.ts), its body at most `maxBodyBytes`: send, revoke, retry; worker pool,
 * consumers, limits, shutdown; dead-letter replay.
 * @module
 */
import { BadRequest } from './query.js'
import { count, flag, jsonParams, limitBody, name, params, secondsParam } from './context.js'
import { action } from './security.js'
import { closestKey } from '../util/closest.js'
import type { Context, Hono } from 'hono'
import type { ControlReplies } from '../client/control.js'
import type { CallOptions } from '../canvas/call-options.js'
import type { DashboardContext } from './context.js'

/** Answers a control command's replies: 404 when the node did not answer, 400 when it refused. */
function replied(c: Context, worker: string | undefined, replies: ControlReplies<unknown>): Response {
  const entries = Object.entries(replies)
  if (entries.length === 0) return c.json({ error: worker ? `worker ${worker} did not answer within 5 s` : 'no worker answered within 1 s' }, 404)
  const refused = entries.find(([, reply]) => reply.error !== undefined)
  if (refused) return c.json({ error: `${refused[0]}: ${refused[1].error}`, replies }, 400)
  return c.json({ message: entries.map(([host, reply]) => `${host}: ${String(reply.ok)}`).join('; '), replies })
}

/** What the send endpoints take, and the option names that belong in `options`. */
const SEND_KEYS = ['args', 'kwargs', 'options'] as const
const OPTION_KEYS = ['countdown', 'eta', 'expires', 'queue', 'priority'] as const

function callOptions(value: unknown): CallOptions {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequest('options must be an object')
  const given = value as Record<string, unknown>
  const options: CallOptions = {}
  for (const key of Object.keys(given)) {
    const v = given[key]
    switch (key) {
      case 'countdown': case 'expires':
        if (typeof v !== 'number' || !(v >= 0)) throw new BadRequest(`options.${key} must be a number of seconds`)
        options[key] = v
        break
      case 'eta': {
        const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN
        if (Number.isNaN(ms)) throw new BadRequest('options.eta must be an ISO date or epoch ms')
        options.eta = new Date(ms)
        break
      }
      case 'queue':
        options.queue = name(v, 'options.queue')
        break
      case 'priority':
        if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 9) throw new BadRequest('options.priority must be an integer from 0 to 9')
        options.priority = v as number
        break
      default:
        throw new BadRequest(`unknown option ${JSON.stringify(key)} (known: ${OPTION_KEYS.join(', ')})`)
    }
  }
  return options
}

/** Adds the action routes to `api`. */
export function actionRoutes(api: Hono, ctx: DashboardContext): void {
  const { deps, state } = ctx
  const guard = action(ctx.options)
  let included: Promise<void> | undefined
  const limit = limitBody(ctx.options.maxBodyBytes)
  const post = (path: string, handler: (c: Context) => Promise<Response>) => api.all(path, guard, limit, handler)

  // As Flower: async-apply sends a task this app registers (a typo is a 404, not a message no
  // worker will run); send-task sends any name, for a dashboard started without the app.
  const send = (registered: boolean) => async (c: Context) => {
    const task = name(c.req.param('name'), 'task name')
    // The include list's modules are imported on the first name not found: a dashboard process
    // has only the app's own module, where a worker's threads import every one.
    if (registered && !deps.taskNames().includes(task)) await (included ??= deps.loadTasks())
    if (registered && !deps.taskNames().includes(task)) {
      const meant = closestKey(task, deps.taskNames())
      return c.json({ error: `unknown task ${JSON.stringify(task)}: not registered in this dashboard's app${meant ? ` (did you mean ${JSON.stringify(meant)}?)` : ''}; /api/task/send-task/:name sends any name without checking` }, 404)
    }
    const p = await jsonParams(c, SEND_KEYS, Object.fromEntries(OPTION_KEYS.map((key) => [key, `options.${key}`])))
    const args = p.args ?? []
    if (!Array.isArray(args)) throw new BadRequest(`args must be an array, got ${JSON.stringify(args)}`)
    const kwargs = p.kwargs
    if (kwargs !== undefined && (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs))) throw new BadRequest(`kwargs must be an object, got ${JSON.stringify(kwargs)}`)
    const options = callOptions(p.options)
    if (kwargs !== undefined) options.kwargs = kwargs as Record<string, unknown>
    try {
      const id = await deps.sendTask(task, args, options)
      return c.json({ 'task-id': id, state: 'PENDING' })
    } catch (error) {
      if ((error as Error).name === 'InvalidArgumentError' || (error as Error).name === 'SerializationError') throw new BadRequest((error as Error).message)
      throw error
    }
  }
  post('/api/task/async-apply/:name', send(true))
  post('/api/task/send-task/:name', send(false))

  post('/api/task/revoke/:id', async (c) => {
    const id = name(c.req.param('id'), 'task id')
    const p = await params(c)
    const terminate = flag(p.terminate, 'terminate')
    await deps.control.revoke(id, { terminate })
    return c.json({ message: `Revoked '${id}'${terminate ? ' and terminated it where it runs' : ''}` })
  })

  post('/api/task/retry/:id', async (c) => {
    const id = name(c.req.param('id'), 'task id')
    const row = state.tasks.get(id)
    if (!row?.name) return c.json({ error: `task ${id} cannot be sent again: its name and arguments are not in the dashboard's memory` }, 404)
    if (row.args === undefined || row.args.endsWith('...') || (row.kwargs ?? '').endsWith('...')) {
      return c.json({ error: `task ${id} cannot be sent again: its arguments were not seen in full (task-received events carry them, cut at 1,024 characters)` }, 409)
    }
    let args: unknown[]
    let kwargs: Record<string, unknown> | undefined
    try {
      args = JSON.parse(row.args) as unknown[]
      kwargs = row.kwargs ? (JSON.parse(row.kwargs) as Record<string, unknown>) : undefined
    } catch {
      return c.json({ error: `task ${id} cannot be sent again: its arguments could not be shown as JSON (${row.args})` }, 409)
    }
    if (!Array.isArray(args)) return c.json({ error: `task ${id} cannot be sent again: its arguments are not a list` }, 409)
    const newId = await deps.sendTask(row.name, args, { ...(kwargs && Object.keys(kwargs).length > 0 ? { kwargs } : {}), ...(row.queue ? { queue: row.queue } : {}) })
    return c.json({ 'task-id': newId, state: 'PENDING', retryOf: id })
  })

  post('/api/task/rate-limit/:name', async (c) => {
    const task = name(c.req.param('name'), 'task name')
    const p = await params(c)
    const worker = p.workername === undefined ? undefined : name(p.workername, 'workername')
    const limit = p.ratelimit ?? p.rateLimit
    if (typeof limit !== 'string' && typeof limit !== 'number') throw new BadRequest('ratelimit is required: "10/m", "5/s", a number per second, or 0 for none')
    try {
      return replied(c, worker, await deps.control.rateLimit(task, typeof limit === 'string' && /^\d+(\.\d+)?$/.test(limit) ? Number(limit) : limit, { timeout: worker ? 5 : 1, ...(worker ? { destination: worker } : {}) }))
    } catch (error) {
      throw new BadRequest((error as Error).message)
    }
  })

  post('/api/task/timeout/:name', async (c) => {
    const task = name(c.req.param('name'), 'task name')
    const p = await params(c)
    const worker = p.workername === undefined ? undefined : name(p.workername, 'workername')
    const soft = secondsParam(p.soft, 'soft')
    const hard = secondsParam(p.hard, 'hard')
    if (soft === null && hard === null) throw new BadRequest('give soft and/or hard, in seconds')
    return replied(c, worker, await deps.control.timeLimit(task, { soft, hard }, { timeout: worker ? 5 : 1, ...(worker ? { destination: worker } : {}) }))
  })

  const poolChange = (grow: boolean) => async (c: Context) => {
    const worker = name(c.req.param('name'), 'worker name')
    const n = count((await params(c)).n, 'n', 1, 64)
    const control = deps.control
    return replied(c, worker, await (grow ? control.poolGrow(n, { destination: worker, timeout: 5 }) : control.poolShrink(n, { destination: worker, timeout: 5 })))
  }
  post('/api/worker/pool/grow/:name', poolChange(true))
  post('/api/worker/pool/shrink/:name', poolChange(false))

  const consumer = (add: boolean) => async (c: Context) => {
    const worker = name(c.req.param('name'), 'worker name')
    const queue = name((await params(c)).queue, 'queue')
    const control = deps.control
    return replied(c, worker, await (add ? control.addConsumer(queue, { destination: worker, timeout: 5 }) : control.cancelConsumer(queue, { destination: worker, timeout: 5 })))
  }
  post('/api/worker/queue/add-consumer/:name', consumer(true))
  post('/api/worker/queue/cancel-consumer/:name', consumer(false))

  post('/api/worker/shutdown/:name', async (c) => {
    const worker = name(c.req.param('name'), 'worker name')
    return replied(c, worker, await deps.control.shutdown({ destination: worker, timeout: 5 }))
  })

  post('/api/queues/:name/dead-letters/replay', async (c) => {
    const queue = name(c.req.param('name'), 'queue name')
    return c.json({ queue, replayed: await (await deps.transport()).replayDeadLetters(queue) })
  })
}
