/**
 * The task list's filters, search and paging (Flower's `/api/tasks` parameters), checked: a bad
 * value is a {@link BadRequest} naming the parameter.
 * @module
 */
import type { TaskRow } from './state.js'

/** A request the dashboard refuses with this message: a 400, or the `status` given (415 for a body it cannot read). */
export class BadRequest extends Error {
  override name = 'BadRequest'

  constructor(message: string, readonly status: 400 | 415 = 400) {
    super(message)
  }
}

/** What a task list request asks for. */
export interface TaskQuery {
  states?: Set<string>
  name?: string
  worker?: string
  /** Received (or sent) at or after, epoch ms. */
  from?: number
  /** Received (or sent) before, epoch ms. */
  to?: number
  /** Free text, matched in id, name, args, kwargs, result and exception (case-insensitive). */
  text?: string
  offset: number
  limit: number
}

/** The states a task can show, for checking `state=`. */
export const KNOWN_STATES = ['PENDING', 'RECEIVED', 'STARTED', 'SUCCESS', 'FAILURE', 'RETRY', 'REVOKED', 'REJECTED'] as const
const MAX_LIMIT = 1000

/**
 * Reads a task query from URL parameters: `state` (comma list), `name` or `taskname`, `worker`
 * or `workername`, `received_start` / `received_end` (ISO date or epoch ms), `search` (text
 * with Flower's `name:x`, `state:x`, `worker:x` terms), `offset`, `limit` (1 to 1000).
 */
export function parseTaskQuery(params: URLSearchParams): TaskQuery {
  const query: TaskQuery = { offset: integer(params.get('offset'), 'offset', 0, 0), limit: integer(params.get('limit'), 'limit', 50, 1, MAX_LIMIT) }
  const states = params.get('state')
  if (states) query.states = stateSet(states, 'state')
  const name = params.get('name') ?? params.get('taskname')
  if (name) query.name = name
  const worker = params.get('worker') ?? params.get('workername')
  if (worker) query.worker = worker
  const from = params.get('received_start')
  if (from) query.from = time(from, 'received_start')
  const to = params.get('received_end')
  if (to) query.to = time(to, 'received_end')
  const search = params.get('search')
  if (search) applySearch(query, search)
  return query
}

/** Splits `name:add state:failure hello` into its terms; the rest is free text. */
function applySearch(query: TaskQuery, search: string): void {
  const words: string[] = []
  for (const term of search.trim().split(/\s+/)) {
    const match = /^(name|state|worker|id):(.+)$/i.exec(term)
    if (!match) {
      words.push(term)
      continue
    }
    const [, key, value] = match
    switch (key.toLowerCase()) {
      case 'name': query.name = value; break
      case 'state': query.states = stateSet(value, 'search state:'); break
      case 'worker': query.worker = value; break
      case 'id': words.push(value); break
    }
  }
  if (words.length > 0) query.text = words.join(' ').toLowerCase()
}

function stateSet(value: string, what: string): Set<string> {
  const states = value.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean)
  for (const state of states) {
    if (!(KNOWN_STATES as readonly string[]).includes(state)) throw new BadRequest(`${what}: unknown state ${JSON.stringify(state)} (known: ${KNOWN_STATES.join(', ')})`)
  }
  return new Set(states)
}

function integer(value: string | null, what: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === null || value === '') return fallback
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max) throw new BadRequest(`${what} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
  return n
}

function time(value: string, what: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (Number.isNaN(ms)) throw new BadRequest(`${what} must be an ISO date or epoch ms, got ${JSON.stringify(value)}`)
  return ms
}

/** Whether a task matches a query (paging aside). */
export function matches(row: TaskRow, query: TaskQuery): boolean {
  if (query.states && !query.states.has(row.state)) return false
  if (query.name !== undefined && !(row.name ?? '').includes(query.name)) return false
  if (query.worker !== undefined && !(row.worker ?? '').includes(query.worker)) return false
  const at = row.received ?? row.sent ?? row.timestamp
  if (query.from !== undefined && at < query.from) return false
  if (query.to !== undefined && at >= query.to) return false
  if (query.text !== undefined) {
    const haystack = `${row.id} ${row.name ?? ''} ${row.args ?? ''} ${row.kwargs ?? ''} ${row.result ?? ''} ${row.exception ?? ''}`.toLowerCase()
    if (!haystack.includes(query.text)) return false
  }
  return true
}

/** One page of matching tasks, newest first, and how many match in all. */
export function queryTasks(tasks: ReadonlyMap<string, TaskRow>, query: TaskQuery): { total: number; tasks: TaskRow[] } {
  const all = [...tasks.values()]
  const page: TaskRow[] = []
  let total = 0
  for (let i = all.length - 1; i >= 0; i--) {
    if (!matches(all[i], query)) continue
    if (total >= query.offset && page.length < query.limit) page.push(all[i])
    total++
  }
  return { total, tasks: page }
}
