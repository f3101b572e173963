/**
 * What the dashboard's routes share: the port, the state, the options, and the helpers that
 * turn a request's input into checked values (a bad one is a {@link BadRequest}, answered 400).
 * @module
 */
import { codecFor } from '../serialization/codec.js'
import { BadRequest } from './query.js'
import { closestKey } from '../util/closest.js'
import { readQueueStats, brokerQueues, type QueueRow } from './queue-stats.js'
import type { Context, MiddlewareHandler } from 'hono'
import type { DashboardDeps } from './deps.js'
import type { DashboardState, TaskRow } from './state.js'
import type { DashboardOptions } from './options.js'
import type { TaskMeta } from '../result/backend.js'
import type { ControlReplies, TaskInfo, WorkerStats } from '../client/control.js'

/** The shared parts of every route. */
export class DashboardContext {
  /** Queues seen in task events, for the Queues page. */
  readonly seenQueues = new Set<string>()

  constructor(
    readonly deps: DashboardDeps,
    readonly state: DashboardState,
    readonly options: DashboardOptions & { readOnly: boolean; prefix: string; maxBodyBytes: number },
  ) {}

  /** Every queue known: configured, consumed by a node, seen in events, held by the broker. */
  async queueNames(): Promise<string[]> {
    const conf = this.deps.conf()
    const names = new Set<string>([conf.taskDefaultQueue, ...conf.taskQueues.map((q) => q.name), ...this.seenQueues])
    for (const worker of this.state.workers.values()) for (const queue of worker.queues ?? []) names.add(queue)
    for (const queue of await brokerQueues(this.#queueSource()).catch(() => [])) names.add(queue)
    return [...names].sort()
  }

  /** Figures of every known queue, from the broker. */
  async queues(): Promise<QueueRow[]> {
    const consumers = new Map<string, number>()
    for (const worker of this.state.workerList()) {
      if (worker.status !== 'online') continue
      for (const queue of worker.queues ?? []) consumers.set(queue, (consumers.get(queue) ?? 0) + 1)
    }
    return readQueueStats(this.#queueSource(), await this.queueNames(), consumers)
  }

  #queueSource() {
    return { transport: () => this.deps.transport(), nats: () => this.deps.nats(), namespace: this.deps.conf().namespace, now: () => this.deps.clock.now() }
  }

  /**
   * Asks the nodes for their stats and their running and reserved tasks, and folds them into
   * the worker rows. Answers the replies, for a caller that shows them too.
   */
  async refreshWorkers(destination?: string): Promise<{ stats: ControlReplies<WorkerStats>; active: ControlReplies<TaskInfo[]>; reserved: ControlReplies<TaskInfo[]> }> {
    const inspect = this.deps.control.inspect({ timeout: 1, ...(destination ? { destination } : {}) })
    const [stats, active, reserved] = await Promise.all([inspect.stats(), inspect.active(), inspect.reserved()])
    for (const [key, reply] of Object.entries(stats)) {
      const node: WorkerStats | undefined = reply.ok
      if (!node) continue
      const row = this.state.workers.get(node.hostname ?? key)
      if (!row) continue
      row.pid = node.pid
      row.threads = node.pool.threads
      row.held = node.pool.held
      row.tasksPerThread = node.pool.tasksPerThread
      row.slots = node.pool.threads * node.pool.tasksPerThread
      row.queues = node.queues
      row.rssKb = node.rssKb
      row.uptime = node.uptime
      row.total = node.total
      // What the node's threads run (its celeriac_worker_tasks_active), apart from what it
      // holds for a slot or a rate limit (heartbeats say so too, but not an older node's).
      const running = active[key]?.ok?.length
      const waiting = reserved[key]?.ok?.length
      if (running === undefined || waiting === undefined) {
        delete row.running
        delete row.reserved
        delete row.load
        continue
      }
      row.running = running
      row.reserved = waiting
      row.load = row.slots > 0 ? running / row.slots : undefined
    }
    return { stats, active, reserved }
  }

  /** A task by id: from memory, else from the result backend; `undefined` when neither knows it. */
  async task(id: string): Promise<(TaskRow & { source: 'events' | 'backend' }) | undefined> {
    const row = this.state.tasks.get(id)
    if (row) return { ...row, source: 'events' }
    const backend = await this.deps.backend()
    const meta = await backend.get(id)
    return meta ? { ...fromMeta(meta), source: 'backend' } : undefined
  }
}

/** A task row made from the result backend's record (no timeline: the events are gone). */
export function fromMeta(meta: TaskMeta): TaskRow {
  const row: TaskRow = { id: meta.taskId, state: meta.state, retries: meta.retries ?? 0, children: [...(meta.children ?? [])], timestamp: meta.dateDone ?? 0, timeline: [] }
  if (meta.name !== undefined) row.name = meta.name
  if (meta.worker !== undefined) row.worker = meta.worker
  if (meta.rootId !== undefined) row.rootId = meta.rootId
  if (meta.parentId !== undefined) row.parentId = meta.parentId
  if (meta.dateDone !== undefined) row.finished = meta.dateDone
  if (meta.result !== undefined) row.result = resultText(meta)
  if (meta.error !== undefined) {
    row.exception = `${meta.error.type}(${JSON.stringify(meta.error.message)})`
    if (meta.error.stack) row.traceback = meta.error.stack
  }
  return row
}

/** The stored result as JSON text. */
export function resultText(meta: TaskMeta): string | undefined {
  if (meta.result === undefined) return undefined
  try {
    return JSON.stringify(codecFor(meta.contentType ?? 'application/x-msgpack').decode(meta.result), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  } catch (error) {
    return `<undecodable: ${(error as Error).message}>`
  }
}

/** The decoded stored result (for `/api/task/result`). */
export function resultValue(meta: TaskMeta): unknown {
  if (meta.result === undefined) return null
  return codecFor(meta.contentType ?? 'application/x-msgpack').decode(meta.result)
}

/**
 * Refuses a request body over `maxBytes` with 413 and a JSON error saying the limit: by its
 * Content-Length before reading anything, else while reading it (a chunked body, or a Request
 * made in process, which nothing holds to its Content-Length). The routes then read the bytes
 * read here, never the sender's stream.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const body = c.req.raw.body
    if (!body) return next()
    const tooLarge = () => c.json({ error: `the request body is over the dashboard's limit of ${maxBytes} bytes (option maxBodyBytes)` }, 413)
    if (Number(c.req.header('content-length')) > maxBytes) return tooLarge()
    const chunks: Uint8Array[] = []
    let size = 0
    const reader = body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) return tooLarge()
      chunks.push(value)
    }
    reader.releaseLock()
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks) })
    return next()
  }
}

// Far deeper than any task's arguments, and far shallower than the few thousand levels where
// the recursive walks over them (the serializability check, the codecs) run out of stack.
const MAX_DEPTH = 256

/** A JSON body's value; one nested over {@link MAX_DEPTH} levels is a {@link BadRequest}, found before parsing. */
function parseJson(text: string): unknown {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i)
    if (inString) {
      if (char === 0x5c) i++
      else if (char === 0x22) inString = false
    } else if (char === 0x22) inString = true
    else if (char === 0x5b || char === 0x7b) {
      if (++depth > MAX_DEPTH) throw new BadRequest(`the body is nested too deeply: over ${MAX_DEPTH} levels of arrays and objects`)
    } else if (char === 0x5d || char === 0x7d) depth--
  }
  return JSON.parse(text)
}

/** The request's parameters: the query string, then a JSON or form body over it. */
export async function params(c: Context): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { ...c.req.query() }
  if (c.req.method !== 'POST') return out
  const type = c.req.header('content-type') ?? ''
  if (type.startsWith('application/json')) {
    const text = await c.req.text()
    if (text.trim() === '') return out
    let body: unknown
    try {
      body = parseJson(text)
    } catch (error) {
      if (error instanceof BadRequest) throw error
      throw new BadRequest(`the body is not valid JSON: ${(error as Error).message}`)
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('the body must be a JSON object')
    Object.assign(out, body)
  } else if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
    Object.assign(out, await c.req.parseBody())
  }
  return out
}

/**
 * The parameters of an endpoint that takes a JSON object (sending a task): the query string,
 * then the body over it, every key one of `known` (a typo such as `arg` would otherwise send
 * the task without its arguments). The body is read as JSON whatever its Content-Type, as
 * Flower does: `curl -d '{"args": [1, 2]}'` labels it a form. A body that is not JSON is a 415.
 * `token` in the query string is the dashboard's credential, not a parameter.
 */
export async function jsonParams(c: Context, known: readonly string[], hints: Readonly<Record<string, string>> = {}): Promise<Record<string, unknown>> {
  const { token: _token, ...out }: Record<string, unknown> = c.req.query()
  const type = c.req.header('content-type') ?? ''
  const text = await c.req.text()
  if (text.trim() !== '') {
    let body: unknown
    try {
      body = parseJson(text)
    } catch (error) {
      if (error instanceof BadRequest) throw error
      if (type.startsWith('application/json')) throw new BadRequest(`the body is not valid JSON: ${(error as Error).message}`)
      throw new BadRequest(`the body must be a JSON object such as {"args": [1, 2], "kwargs": {}, "options": {"countdown": 10}}, sent with Content-Type: application/json; got ${type.split(';')[0]!.trim() || 'no Content-Type'}`, 415)
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('the body must be a JSON object')
    Object.assign(out, body)
  }
  for (const key of Object.keys(out)) {
    if (known.includes(key)) continue
    const meant = hints[key] ?? closestKey(key, known)
    throw new BadRequest(`unknown parameter ${JSON.stringify(key)}${meant ? ` (did you mean ${JSON.stringify(meant)}?)` : ''}; known: ${known.join(', ')}`)
  }
  return out
}

/** A name in a path or parameter: non-empty, at most 255 characters, no control characters. */
export function name(value: unknown, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value === '' || value.length > 255 || /[\u0000-\u001f]/.test(value)) {
    throw new BadRequest(`${what} must be a non-empty name of at most 255 characters, got ${JSON.stringify(value)}`)
  }
  return value
}

/** A positive integer parameter, `fallback` when absent. */
export function count(value: unknown, what: string, fallback: number, max = 1000): number {
  if (value === undefined || value === '') return fallback
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new BadRequest(`${what} must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`)
  return n
}

/** A boolean parameter: true, false, 1, 0, yes, no. */
export function flag(value: unknown, what: string): boolean {
  if (value === undefined || value === '') return false
  if (typeof value === 'boolean') return value
  const text = String(value).toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(text)) return true
  if (['false', '0', 'no', 'off'].includes(text)) return false
  throw new BadRequest(`${what} must be true or false, got ${JSON.stringify(value)}`)
}

/** A number of seconds parameter (`null` when absent). */
export function secondsParam(value: unknown, what: string): number | null {
  if (value === undefined || value === '' || value === null) return null
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new BadRequest(`${what} must be a positive number of seconds, got ${JSON.stringify(value)}`)
  return n
}
